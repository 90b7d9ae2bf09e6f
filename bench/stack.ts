/**
 * The system under test, set up for real: a redis-server configured like the appliance's
 * (`tapstack setup` renders its redis.conf), a data directory migrated with `bin/tapstack migrate`, funded players
 * with sessions, a closed breaker and a long-lived quote, then the real API, writer and realtime
 * processes from dist/.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { getAddress } from 'ethers';
import { Redis as IORedis } from 'ioredis';
import { adminMovement } from '../services/shared/accounts.js';
import { loadConfig, type Config } from '../services/shared/config.js';
import { openDb } from '../services/shared/db/database.js';
import { createLogger } from '../services/shared/logger.js';
import type { Quote, QuoteCell } from '../services/shared/market/quote-store.js';
import { createRedis, type Redis } from '../services/shared/redis.js';
import { createSessionStore } from '../services/shared/sessions.js';
import { renderRedisConf } from '../cli/setup/templates.js';
import { closeBreaker, publishTestQuote } from '../test/helpers/market-fixture.js';
import { freePort, waitFor } from '../test/helpers/ports.js';
import { cleanEnv, start, startNode, waitForOutput, type Child } from './procs.js';

/** Settings the bench needs so that only throughput limits throughput (see bench/README.md). */
export const BENCH_SERVICE_ENV: Record<string, string> = {
  TAPSTACK_LOG_LEVEL: 'warn',
  // The breaker record is written once at set-up and must stay "fresh" for the whole run.
  TAPSTACK_BREAKER_STALE_SECONDS: '3600',
  TAPSTACK_BET_RATE_PER_SECOND: '1000000',
  TAPSTACK_CELL_LIABILITY_CAP: '1000000000',
  TAPSTACK_COLUMN_LIABILITY_CAP: '1000000000',
  // Hour-long windows: no tapped cell comes near its lock time during a run.
  TAPSTACK_GRID_COLUMN_SECONDS: '3600',
  TAPSTACK_GRID_COLUMNS: '8',
  TAPSTACK_GRID_ROWS: '20',
};

/**
 * The V8 flags the api, writer and realtime run with in the appliance (docker-compose.yaml and the
 * AIO image's supervisord.conf; test/unit/deploy-compose.test.ts holds the three to the same): a
 * larger young generation, which halves the API's GC time per bet (DEPLOY.md, sizing). The heap
 * caps of compose's memory limits are left out here: the bench runs on the host.
 */
export const BET_PATH_NODE_FLAGS = ['--max-semi-space-size=32'];

export interface Player {
  address: string;
  token: string;
}

export interface Stack {
  dataDir: string;
  config: Config;
  env: Record<string, string>;
  redis: Redis;
  redisPid: number;
  apiUrl: string;
  realtimeUrl: string;
  writerProbeUrl: string;
  players: Player[];
  quote: Quote;
  cells: QuoteCell[];
  api: Child;
  writer: Child;
  realtime: Child;
  /** Where `--cpu-prof` writes, when profiling. */
  profileDir: string;
}

export interface StackOptions {
  players: number;
  /** Credit per player, minor units. */
  funds: number;
  /** Node flags for the API and writer (e.g. --cpu-prof). */
  nodeArgs: string[];
  /** TAPSTACK_* overrides from the caller's environment (applied over BENCH_SERVICE_ENV). */
  overrides: Record<string, string>;
  /** How long the run may take: only cells whose window starts later than this are tapped. */
  runSeconds: number;
  /** An empty directory for the database, Redis files and profiles. */
  dataDir: string;
  /** Keep the appliance's Redis `maxmemory` (bench:soak) instead of lifting it. */
  applianceMaxmemory?: boolean;
}

/**
 * redis-server with the configuration `tapstack setup` renders for the appliance (AOF every second,
 * RDB snapshots, noeviction), except `maxmemory`: the bench reports bytes per bet instead of
 * running into the appliance's cap (see bench/README.md).
 */
async function startRedis(config: Config, dir: string, applianceMaxmemory = false): Promise<{ child: Child; password: string }> {
  const password = randomBytes(16).toString('hex');
  const confFile = path.join(dir, 'redis.conf');
  fs.writeFileSync(confFile, `${renderRedisConf(config, password, dir)}${applianceMaxmemory ? '' : 'maxmemory 0\n'}`, { mode: 0o600 });
  const port = Number(new URL(config.redis.url).port);
  const child = start('redis', 'redis-server', [confFile], cleanEnv());
  await waitFor(async () => {
    if (child.child.exitCode !== null) throw new Error(`redis-server exited: ${child.output()}`);
    const r = new IORedis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } finally {
      r.disconnect();
    }
  }, `redis-server on port ${port}`);
  return { child, password };
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const { dataDir } = opts;
  const profileDir = path.join(dataDir, 'profiles');
  const [redisPort, httpPort, realtimePort, writerPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = {
    ...BENCH_SERVICE_ENV,
    ...opts.overrides,
    TAPSTACK_DATA_DIR: dataDir,
    TAPSTACK_REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
    TAPSTACK_REDIS_PREFIX: 'bench:',
    TAPSTACK_HTTP_PORT: String(httpPort),
    TAPSTACK_REALTIME_PORT: String(realtimePort),
    TAPSTACK_WRITER_PORT: String(writerPort),
  };
  const redisDir = path.join(dataDir, 'redis');
  fs.mkdirSync(redisDir);
  const redisServer = await startRedis(loadConfig(env), redisDir, opts.applianceMaxmemory);
  env.TAPSTACK_REDIS_PASSWORD = redisServer.password;
  const config = loadConfig(env);

  // Schema exactly as an operator creates it.
  const migrated = spawnSync(path.join(process.cwd(), 'bin', 'tapstack'), ['migrate'], { env: { ...cleanEnv(), ...env }, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`tapstack migrate failed: ${migrated.stderr || migrated.stdout}`);

  // Fund the players before the writer starts: its recovery builds every balance cache from SQLite.
  const players: { address: string }[] = Array.from({ length: opts.players }, () => ({ address: getAddress(`0x${randomBytes(20).toString('hex')}`) }));
  const db = openDb(config.dbFile, { synchronous: config.sqlite.synchronous });
  try {
    const now = Date.now();
    for (const p of players) adminMovement(db, { address: p.address, direction: 'credit', amount: opts.funds, ref: `bench-fund-${p.address}` }, now);
  } finally {
    db.close();
  }

  const redis = createRedis(config, createLogger({ service: 'bench', level: 'silent' }), 'bench');
  const sessions = createSessionStore(redis, config.session.ttlSeconds);
  const withTokens: Player[] = [];
  for (const p of players) withTokens.push({ address: p.address, token: await sessions.create(p.address, Date.now()) });

  await closeBreaker(redis, config);
  const now = Date.now();
  const quote = await publishTestQuote(redis, config, { expiresAt: now + 24 * 3_600_000 }, now);
  const lockMs = config.grid.lockSeconds * 1000;
  const cells = quote.cells.filter((c) => !c.disabled && c.startMs - now > lockMs + (opts.runSeconds + 120) * 1000);
  if (cells.length < 10) throw new Error(`only ${cells.length} tappable cells in the bench quote: check the TAPSTACK_GRID_* settings`);

  const nodeArgs = opts.nodeArgs.length ? [...opts.nodeArgs, `--cpu-prof-dir=${profileDir}`] : [];
  const writer = startNode('writer', 'services/writer/main.js', env, [...BET_PATH_NODE_FLAGS, ...(nodeArgs.length ? [...nodeArgs, '--cpu-prof-name=writer.cpuprofile'] : [])]);
  const api = startNode('api', 'services/api/main.js', env, [...BET_PATH_NODE_FLAGS, ...(nodeArgs.length ? [...nodeArgs, '--cpu-prof-name=api.cpuprofile'] : [])]);
  const realtime = startNode('realtime', 'services/realtime/main.js', env, BET_PATH_NODE_FLAGS);
  const apiUrl = `http://127.0.0.1:${httpPort}`;
  const realtimeUrl = `http://127.0.0.1:${realtimePort}`;
  const writerProbeUrl = `http://127.0.0.1:${writerPort}`;
  const up = (c: Child, url: string) =>
    waitFor(async () => {
      if (c.child.exitCode !== null) throw new Error(`${c.name} exited (${c.child.exitCode}):\n${c.output()}`);
      return (await fetch(url)).ok;
    }, `${c.name} at ${url}`, 20_000);
  await Promise.all([up(api, `${apiUrl}/readyz`), up(writer, `${writerProbeUrl}/readyz`), up(realtime, `${realtimeUrl}/readyz`)]);

  return { dataDir, config, env, redis, redisPid: redisServer.child.pid, apiUrl, realtimeUrl, writerProbeUrl, players: withTokens, quote, cells, api, writer, realtime, profileDir };
}

/** The bare Koa reference: its own process, loopback, a free port. */
export async function startBareKoa(): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = startNode('bare-koa', 'bench/bare-koa.js', { BENCH_PORT: String(port) });
  await waitForOutput(child, /listening/);
  return { child, url: `http://127.0.0.1:${port}/hello` };
}

/** One Prometheus sample (summed over label sets that contain every given label). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`);
  return r.text();
}
