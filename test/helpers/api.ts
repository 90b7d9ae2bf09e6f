/**
 * The API wired exactly as main.ts does, in-process, on a loopback port, against a real Redis and
 * a real SQLite file. `now` can be moved to test clock-dependent rules.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createApiListener } from '../../services/api/app.js';
import { loadConfig, type Config } from '../../services/shared/config.js';
import { openDb, type Db } from '../../services/shared/db/database.js';
import { migrate } from '../../services/shared/db/migrate.js';
import { createLogger, type Logger } from '../../services/shared/logger.js';
import { createMetrics } from '../../services/shared/metrics.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { createSessionStore } from '../../services/shared/sessions.js';
import { adminMovement } from '../../services/shared/accounts.js';
import { betKeys } from '../../services/shared/redis-names.js';
import { tempDir, testEnv } from './env.js';
import type { TestRedis } from './redis-server.js';
import { freePort, waitFor } from './ports.js';
import { startProcess, type Proc } from './process.js';

export interface TestApi {
  base: string;
  config: Config;
  db: Db;
  redis: Redis;
  clock: { offsetMs: number };
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * `opts.log`: the API's logger; or `opts.logs`: collect its log lines (at `opts.logLevel`, default
 * info) into this array.
 */
export async function startApi(testRedis: TestRedis, extra: Record<string, string> = {}, opts: { log?: Logger; logs?: string[]; logLevel?: string } = {}): Promise<TestApi> {
  const dataDir = tempDir();
  const config = loadConfig(testEnv({ dataDir, redis: testRedis, extra: { TAPSTACK_PUBLIC_ORIGIN: 'https://tapstack.test', ...extra } }));
  const lines = opts.logs;
  const log =
    opts.log ??
    (lines
      ? createLogger({ service: 'api-test', level: opts.logLevel ?? 'info', destination: { write: (line: string) => void lines.push(line) } })
      : createLogger({ service: 'api-test', level: 'silent' }));
  const db = openDb(config.dbFile, { synchronous: 'NORMAL' });
  migrate(db);
  const redis = createRedis(config, log, 'api-test');
  const clock = { offsetMs: 0 };
  const listener = createApiListener({
    config,
    log,
    db,
    redis,
    metrics: createMetrics('api'),
    sessions: createSessionStore(redis, config.session.ttlSeconds),
    now: () => Date.now() + clock.offsetMs,
  });
  const server: Server = createServer(listener);
  // As main.ts: longer than any client's idle keep-alive, so a busy machine's pause never has the
  // server close a connection the client is just reusing ("fetch failed").
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    config,
    db,
    redis,
    clock,
    dataDir,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
      db.close();
    },
  };
}

/** POST JSON (or a raw string body) and return status + parsed body. */
export async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

export async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* metrics are text */
  }
  return { status: res.status, headers: res.headers, body };
}

/**
 * The real writer process for an in-process API (same data directory, Redis and key prefix),
 * ready when this resolves: money moves (demo grants, credits) are committed by it alone.
 */
export async function startWriterFor(api: TestApi, testRedis: TestRedis, extra: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  const writer = startProcess('services/writer/main.js', testEnv({ dataDir: api.dataDir, redis: testRedis, extra: { TAPSTACK_REDIS_PREFIX: api.config.redis.prefix, TAPSTACK_WRITER_PORT: String(port), ...extra } }));
  await waitFor(async () => {
    if (writer.child.exitCode !== null) throw new Error(`writer exited:\n${writer.output()}`);
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  }, 'writer ready');
  return writer;
}

/**
 * Credit a signed-in player straight in SQLite (as an admin credit with the writer stopped would)
 * while the writer runs, and drop the balance cache so the next tap has the writer load it again.
 * Sign-in asks the writer to fill the cache without waiting for it: that load is let land first,
 * or one that read the balance before the credit and set the cache after the drop would leave it
 * at the old balance.
 */
export async function creditBehindTheWriter(api: TestApi, address: string, amount: number, ref: string): Promise<void> {
  await waitFor(async () => (await api.redis.exists(betKeys.balance(address))) === 1, 'the sign-in balance load');
  adminMovement(api.db, { address, direction: 'credit', amount, ref }, Date.now());
  await api.redis.del(betKeys.balance(address));
}
