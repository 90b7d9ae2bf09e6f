/**
 * A small appliance for crash tests: a persistent Redis (AOF, fsync always), a migrated data dir,
 * funded players with sessions, a closed breaker and a quote, and the API and the writer as REAL
 * processes that a test can SIGKILL and start again on the same ports.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { getAddress } from 'ethers';
import { adminMovement } from '../../services/shared/accounts.js';
import { loadConfig, type Config } from '../../services/shared/config.js';
import { openDb } from '../../services/shared/db/database.js';
import { createLogger } from '../../services/shared/logger.js';
import type { Quote, QuoteCell } from '../../services/shared/market/quote-store.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { betKeys } from '../../services/shared/redis-names.js';
import { createSessionStore } from '../../services/shared/sessions.js';
import { runCli } from './cli.js';
import { tempDir, testEnv } from './env.js';
import { closeBreaker, publishTestQuote } from './market-fixture.js';
import { freePort, waitFor } from './ports.js';
import { startProcess, type Proc } from './process.js';
import { startRedis, type TestRedis } from './redis-server.js';

/** Market settings that keep the fixture quote tappable for the whole test (see betting.test.ts). */
export const CRASH_EXTRA = {
  TAPSTACK_BREAKER_STALE_SECONDS: '3600',
  // Ten-minute windows and an hour-long quote: a burst slowed down by a busy machine never meets a
  // locked cell or an expired quote.
  TAPSTACK_GRID_COLUMN_SECONDS: '600',
  TAPSTACK_GRID_COLUMNS: '8',
  TAPSTACK_BET_RATE_PER_SECOND: '100000',
  TAPSTACK_STAKE_MIN: '0.10',
  TAPSTACK_STAKE_MAX: '100',
  // Caps are not under test here: a refusal must only ever be insufficient-funds.
  TAPSTACK_CELL_LIABILITY_CAP: '100000000',
  TAPSTACK_COLUMN_LIABILITY_CAP: '100000000',
};

export interface RigPlayer {
  address: string;
  funds: number;
  auth: Record<string, string>;
}

export interface Rig {
  redis: TestRedis;
  env: Record<string, string>;
  config: Config;
  /** A client with the rig's key prefix (the test's own view of Redis). */
  client: Redis;
  apiBase: string;
  writerBase: string;
  api: Proc;
  writer: Proc;
  players: RigPlayer[];
  quote: Quote;
  /** Cells that stay tappable for at least ~30 s. */
  cells: QuoteCell[];
  startApi(): Promise<void>;
  startWriter(): Promise<void>;
  /** Everything the API / writer processes printed, across restarts. */
  output(service: 'api' | 'writer'): string;
  stop(): Promise<void>;
}

const READY_MS = 30_000;

/** Wait for /readyz; a process that exits instead fails at once, with its output. */
async function ready(base: string, what: string, proc: Proc): Promise<void> {
  let done = false;
  const died = proc.exited.then((code) => {
    if (!done) throw new Error(`${what}: the process exited (${code}) before it was ready:\n${proc.output().slice(-2000)}`);
  });
  try {
    await Promise.race([waitFor(async () => (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, what, READY_MS, 50), died]);
  } finally {
    done = true;
  }
}

export async function startRig(opts: { funds: number[] }): Promise<Rig> {
  const redis = await startRedis({ persistent: true });
  const dataDir = tempDir('tapstack-crash-');
  let client: Redis | undefined;
  try {
    return await assemble(redis, dataDir, opts.funds, (c) => (client = c));
  } catch (err) {
    client?.disconnect();
    await redis.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function assemble(redis: TestRedis, dataDir: string, funds: number[], connected: (c: Redis) => void): Promise<Rig> {
  const [apiPort, writerPort] = [await freePort(), await freePort()];
  const env = testEnv({
    dataDir,
    redis,
    extra: { ...CRASH_EXTRA, TAPSTACK_HTTP_PORT: String(apiPort), TAPSTACK_WRITER_PORT: String(writerPort), TAPSTACK_SHUTDOWN_TIMEOUT_MS: '5000' },
  });
  const migrated = await runCli(['migrate'], env);
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
  const config = loadConfig(env);

  const players = funds.map((amount) => ({ address: getAddress(`0x${randomBytes(20).toString('hex')}`), funds: amount }));
  const db = openDb(config.dbFile, { synchronous: 'NORMAL' });
  try {
    for (const p of players) adminMovement(db, { address: p.address, direction: 'credit', amount: p.funds, ref: `fund-${p.address}` }, Date.now());
  } finally {
    db.close();
  }

  const client = createRedis(config, createLogger({ service: 'crash-test', level: 'silent' }), 'crash-test');
  connected(client);
  const sessions = createSessionStore(client, config.session.ttlSeconds);
  const withAuth: RigPlayer[] = [];
  for (const p of players) withAuth.push({ ...p, auth: { authorization: `Bearer ${await sessions.create(p.address, Date.now())}` } });
  await closeBreaker(client, config);
  const quote = await publishTestQuote(client, config, { expiresAt: Date.now() + 3_600_000 });
  const soon = Date.now() + (config.grid.lockSeconds + 300) * 1000;
  const cells = quote.cells.filter((c) => !c.disabled && c.startMs > soon && c.multiplierCents >= 150);
  if (cells.length === 0) throw new Error('no cell of the fixture quote stays tappable long enough');

  const logs = { api: '', writer: '' };
  const alive = (p: Proc | undefined) => p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  const keepLog = (service: 'api' | 'writer', p: Proc) => void p.exited.then(() => (logs[service] += p.output()));
  const rig: Rig = {
    redis,
    env,
    config,
    client,
    apiBase: `http://127.0.0.1:${apiPort}`,
    writerBase: `http://127.0.0.1:${writerPort}`,
    api: undefined as unknown as Proc,
    writer: undefined as unknown as Proc,
    players: withAuth,
    quote,
    cells,
    async startApi() {
      rig.api = startProcess('services/api/main.js', env);
      keepLog('api', rig.api);
      await ready(rig.apiBase, 'api /readyz', rig.api);
    },
    async startWriter() {
      // Info level: the recovery line (how many entries were redelivered) is part of the evidence.
      const proc = startProcess('services/writer/main.js', { ...env, TAPSTACK_LOG_LEVEL: 'info' });
      keepLog('writer', proc);
      rig.writer = proc;
      await ready(rig.writerBase, 'writer /readyz', proc);
    },
    output: (service) => logs[service] + (alive(rig[service]) ? rig[service].output() : ''),
    async stop() {
      client.disconnect();
      await Promise.all([rig.api?.stop('SIGKILL'), rig.writer?.stop('SIGKILL')]);
      await redis.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all([rig.startApi(), rig.startWriter()]);
  } catch (err) {
    await Promise.all([rig.api?.stop('SIGKILL'), rig.writer?.stop('SIGKILL')]);
    throw err;
  }
  return rig;
}

/** Balance caches are filled by the writer on first use: ask for every player's and wait. */
export async function warmBalances(rig: Rig): Promise<void> {
  await Promise.all(rig.players.map((p) => fetch(`${rig.apiBase}/api/me`, { headers: p.auth }).then((r) => r.text())));
  await waitFor(async () => (await Promise.all(rig.players.map((p) => rig.client.exists(betKeys.balance(p.address))))).every((n) => n === 1), 'balance caches loaded', 15_000);
}
