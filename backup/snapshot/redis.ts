/**
 * A point-in-time copy of Redis as an RDB file.
 *
 * `BGSAVE SCHEDULE` (a plain BGSAVE is refused while an AOF rewrite runs; SCHEDULE queues it), then
 * poll `INFO persistence` until the save counter moves and no save is in progress, then copy the
 * file Redis wrote (`CONFIG GET dir` + `dbfilename`). Redis writes a temp file and renames it, so
 * the copy reads one complete file even if another save lands meanwhile. When nothing changed since
 * the last save the file on disk already is the current dataset and is copied as is (so an
 * unchanged Redis yields a byte-identical copy and an unchanged backup uploads nothing).
 * When the file is not reachable from this process (compose: Redis has its own volume) the RDB is
 * streamed over the replication protocol with `redis-cli --rdb`. The copy is checked with
 * `redis-check-rdb`, whose counts (keys, expires) go into the manifest for the restore drill.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { Config } from '../../services/shared/config.js';

const run = promisify(execFile);

export interface RedisSnapshotOk {
  status: 'ok';
  file: string;
  size: number;
  version: string;
  /** Time Redis finished the save (ms). */
  savedAt: number;
  keys: number;
  expires: number;
  /** How the file was obtained. */
  source: 'bgsave' | 'unchanged-dump' | 'redis-cli';
  /** Why the copy could not be checked (redis-check-rdb missing); counts are then -1. */
  unchecked?: string;
}

export interface RedisSnapshotSkipped {
  status: 'skipped';
  reason: string;
}

export type RedisSnapshot = RedisSnapshotOk | RedisSnapshotSkipped;

export interface RdbCheck {
  ok: boolean;
  keys: number;
  expires: number;
  alreadyExpired: number;
  output: string;
}

/** `redis-check-rdb FILE`: exit 0 and its key counts, or ok=false with its output. */
export async function checkRdb(file: string): Promise<RdbCheck> {
  const parse = (out: string, ok: boolean): RdbCheck => {
    const n = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
    return { ok, keys: n(/\[info\] (\d+) keys read/), expires: n(/\[info\] (\d+) expires/), alreadyExpired: n(/\[info\] (\d+) already expired/), output: out };
  };
  try {
    const { stdout, stderr } = await run('redis-check-rdb', [file], { maxBuffer: 16 * 1024 * 1024 });
    return parse(stdout + stderr, true);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: string | number; message: string };
    if (e.code === 'ENOENT') throw new Error('redis-check-rdb is not installed (Debian: redis-tools)');
    return parse(`${e.stdout ?? ''}${e.stderr ?? ''}` || e.message, false);
  }
}

function connect(config: Config, timeoutMs: number): Redis & { lastError?: string } {
  const redis: Redis & { lastError?: string } = new Redis(config.redis.url, {
    password: config.redis.password || undefined,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: 10_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectionName: 'tapstack-backup',
  });
  // ioredis rejects with a bare "Connection is closed."; the error event has the reason.
  redis.on('error', (err: NodeJS.ErrnoException) => (redis.lastError = err.code ?? err.message));
  return redis;
}

const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();

/** Snapshot Redis into `destFile`; never throws for an unreachable Redis (status 'skipped'). */
export async function snapshotRedis(config: Config, destFile: string, opts: { timeoutMs?: number; connectTimeoutMs?: number } = {}): Promise<RedisSnapshot> {
  const redis = connect(config, opts.connectTimeoutMs ?? 2000);
  try {
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      return { status: 'skipped', reason: `Redis at ${redactUrl(config.redis.url)} is not reachable (${redis.lastError ?? (err as Error).message}): backed up without Redis data` };
    }
    const version = field(await redis.info('server'), 'redis_version') ?? 'unknown';
    let dumpPath: string | undefined;
    try {
      const [, dir] = (await redis.config('GET', 'dir')) as string[];
      const [, name] = (await redis.config('GET', 'dbfilename')) as string[];
      if (dir && name) dumpPath = path.resolve(dir, name);
    } catch {
      dumpPath = undefined; // CONFIG renamed or disabled: stream it instead
    }
    fs.mkdirSync(path.dirname(destFile), { recursive: true });
    // Local when Redis runs beside us (on loopback: AIO, native) and its directory is reachable;
    // else over the network. A Redis in another container names a directory of ITS file system,
    // which can exist here too and be another volume (compose: /data is the redis volume there,
    // the data volume here), so the path alone proves nothing.
    const readable = onLoopback(config.redis.url) && dumpPath !== undefined && canRead(path.dirname(dumpPath), fs.constants.R_OK | fs.constants.X_OK);

    let source: RedisSnapshotOk['source'];
    let savedAt: number;
    const persistence = await redis.info('persistence');
    const unchanged = field(persistence, 'rdb_changes_since_last_save') === '0' && field(persistence, 'rdb_bgsave_in_progress') === '0' && field(persistence, 'rdb_last_bgsave_status') === 'ok';
    if (readable && unchanged && canRead(dumpPath as string)) {
      source = 'unchanged-dump';
      savedAt = Number(field(persistence, 'rdb_last_save_time') ?? 0) * 1000;
      fs.copyFileSync(dumpPath as string, destFile);
    } else if (readable) {
      source = 'bgsave';
      savedAt = await bgsave(redis, opts.timeoutMs ?? 120_000);
      fs.copyFileSync(dumpPath as string, destFile);
    } else {
      source = 'redis-cli';
      savedAt = Date.now();
      try {
        await rdbOverNetwork(config, destFile, opts.timeoutMs ?? 120_000);
      } catch (err) {
        fs.rmSync(destFile, { force: true });
        return { status: 'skipped', reason: `Redis data not backed up: ${(err as Error).message}` };
      }
    }
    let check: RdbCheck;
    try {
      check = await checkRdb(destFile);
    } catch (err) {
      const unchecked = `${(err as Error).message}: the Redis snapshot is not checked and the drill cannot compare key counts`;
      return { status: 'ok', file: destFile, size: fs.statSync(destFile).size, version, savedAt, keys: -1, expires: -1, source, unchecked };
    }
    if (!check.ok) throw new Error(`the Redis snapshot failed redis-check-rdb: ${check.output.trim().split('\n').slice(-3).join(' | ')}`);
    return { status: 'ok', file: destFile, size: fs.statSync(destFile).size, version, savedAt, keys: check.keys, expires: check.expires, source };
  } finally {
    redis.disconnect();
  }
}

/** Ask for a background save and wait until it has finished; returns its time (ms). */
async function bgsave(redis: Redis, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let saves0: number;
  let last0: number;
  // A save already running started before our request (it may miss recent writes): wait for it
  // to end and ask again. SCHEDULE only covers a running AOF rewrite.
  for (;;) {
    saves0 = Number(field(await redis.info('persistence'), 'rdb_saves') ?? NaN);
    last0 = await redis.lastsave();
    try {
      await redis.call('BGSAVE', 'SCHEDULE');
      break;
    } catch (err) {
      if (!/already in progress/i.test((err as Error).message) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const info = await redis.info('persistence');
    const inProgress = field(info, 'rdb_bgsave_in_progress') === '1';
    const saves = Number(field(info, 'rdb_saves') ?? NaN);
    // rdb_saves (Redis ≥ 7) counts every save; LASTSAVE has one-second resolution.
    const moved = Number.isFinite(saves0) ? saves > saves0 : (await redis.lastsave()) > last0;
    if (moved && !inProgress) {
      if (field(info, 'rdb_last_bgsave_status') !== 'ok') throw new Error('Redis BGSAVE failed (rdb_last_bgsave_status is not ok; see the Redis log: disk full or permissions?)');
      return Number(field(info, 'rdb_last_save_time') ?? 0) * 1000;
    }
    if (Date.now() > deadline) throw new Error(`Redis BGSAVE did not finish within ${Math.round(timeoutMs / 1000)} s`);
  }
}

/** `redis-cli --rdb FILE`: Redis forks a save and streams it over the replication protocol. */
async function rdbOverNetwork(config: Config, destFile: string, timeoutMs: number): Promise<void> {
  const url = new URL(config.redis.url);
  const args = ['-h', url.hostname.replace(/^\[(.*)\]$/, '$1'), '-p', url.port || '6379', '--no-auth-warning', '--rdb', destFile];
  if (url.username) args.unshift('--user', decodeURIComponent(url.username));
  const password = config.redis.password || decodeURIComponent(url.password);
  try {
    await run('redis-cli', args, { timeout: timeoutMs, env: { ...process.env, ...(password ? { REDISCLI_AUTH: password } : {}) } });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('the Redis dump file is not readable from here and redis-cli is not installed (Debian: redis-tools)');
    throw new Error(`redis-cli --rdb failed: ${(e.stderr || e.message).trim()}`);
  }
}

function onLoopback(redisUrl: string): boolean {
  const host = new URL(redisUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function canRead(file: string, mode: number = fs.constants.R_OK): boolean {
  try {
    fs.accessSync(file, mode);
    return true;
  } catch {
    return false;
  }
}

function redactUrl(u: string): string {
  const url = new URL(u);
  if (url.password) url.password = '***';
  return url.toString();
}
