/**
 * What every admin command needs, created lazily so `--help` works without a valid config:
 * the config, the primary database (which must already exist and be migrated), output helpers.
 */
import fs from 'node:fs';
import os from 'node:os';
import { loadConfig, type Config } from '../services/shared/config.js';
import { CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES, openDb, type Db } from '../services/shared/db/database.js';
import { migrationStatus } from '../services/shared/db/migrate.js';
import { AppError } from '../services/shared/errors.js';
import { commitMovementLocked } from '../services/shared/accounts.js';
import { awaitMovement, enqueueMovement, movementError, type MoveRequest } from '../services/shared/betting/movements.js';
import { findUser } from '../services/shared/repos/users.repo.js';
import { takeAdminLock, tryWriterLock, writerLockFile } from '../services/shared/writer-lock.js';
import { Redis } from 'ioredis';

/** Exit codes: documented in README "Admin CLI". */
export const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const;

/** A failure to report to the operator: message, stable code, exit status. */
export class CliError extends Error {
  constructor(message: string, readonly code: string, readonly exitCode: number = EXIT.failed) {
    super(message);
  }
}

/** What an admin movement did, and who committed it. */
export interface MovedMoney {
  applied: boolean;
  seq: number;
  ref: string;
  kind: string;
  amount: number;
  balanceAfter: number;
  /** The account's balance right after the movement was committed. */
  balance: number;
  hash: string;
  committedBy: 'writer' | 'cli';
}

export interface Context {
  config(): Config;
  /** The primary database; refuses a missing file or a schema that is not current. */
  db(opts?: { allowOutdated?: boolean; create?: boolean }): Db;
  operator: string;
  /**
   * Move money that is not a bet. The writer commits it when it runs (the command waits for its
   * answer, at most `timeoutMs`); when no writer runs, the CLI takes the writer's lock and commits
   * it itself, so the two never commit at once and the cache cannot go stale behind the writer's
   * back (the writer rebuilds it from SQLite when it starts).
   */
  moveMoney(m: MoveRequest, opts: { timeoutMs: number }): Promise<MovedMoney>;
  close(): void;
}

export function createContext(env: NodeJS.ProcessEnv): Context {
  let config: Config | undefined;
  let db: Db | undefined;
  const ctx: Context = {
    config: () => (config ??= loadConfig(env)),
    db: (opts = {}) => {
      if (db) return db;
      const c = ctx.config();
      if (!opts.create && !fs.existsSync(c.dbFile)) {
        throw new CliError(`no database at ${c.dbFile}: check TAPSTACK_DATA_DIR, or run \`tapstack migrate\` to create one`, 'no-database');
      }
      db = openDb(c.dbFile, {
        mustExist: !opts.create,
        synchronous: c.sqlite.synchronous,
        // Continuous backup: the WAL shipper owns checkpoints (OpenOptions.walAutocheckpoint).
        ...(c.backup.continuous ? { walAutocheckpoint: CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES } : {}),
      });
      if (!opts.allowOutdated) {
        const s = migrationStatus(db);
        if (s.current !== s.latest) {
          throw new CliError(`database schema is at ${s.current}, this build expects ${s.latest}: run \`tapstack migrate\``, 'schema-outdated');
        }
      }
      return db;
    },
    operator: env.SUDO_USER ?? safeUser(),
    async moveMoney(m, { timeoutMs }) {
      const c = ctx.config();
      const database = ctx.db();
      // One admin command at a time; then a busy writer lock means a running writer.
      const admin = await takeAdminLock(c.dataDir, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => {
        throw new CliError(`another admin command held ${c.dataDir}/admin.lock for longer than ${Math.round(timeoutMs / 1000)} s; nothing changed: try again`, 'busy');
      });
      try {
        return await moveWithAdminLock(c, database, m, timeoutMs);
      } finally {
        admin.release();
      }
    },
    close: () => db?.close(),
  };
  return ctx;
}

/** Commit it here under the writer's lock if no writer runs, else through the writer. */
async function moveWithAdminLock(c: Config, database: Db, m: MoveRequest, timeoutMs: number): Promise<MovedMoney> {
  const lock = tryWriterLock(c.dataDir);
  if (lock) {
    try {
      const { entry, replayed } = commitMovementLocked(database, m, Date.now());
      return { applied: !replayed, seq: entry.seq, ref: entry.ref, kind: entry.kind, amount: entry.amount, balanceAfter: entry.balanceAfter, balance: findUser(database, m.address)?.balance ?? 0, hash: entry.hash, committedBy: 'cli' };
    } finally {
      lock.release();
    }
  }
  const redis = new Redis(c.redis.url, {
    password: c.redis.password || undefined,
    keyPrefix: c.redis.prefix,
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  let id: string;
  try {
    await redis.connect();
    id = await enqueueMovement(redis, m, Date.now());
  } catch (err) {
    redis.disconnect();
    throw new CliError(`the writer is running (it holds ${writerLockFile(c.dataDir)}) but Redis at ${c.redis.url} cannot be reached (${(err as Error).message}); nothing was queued: try again when Redis is back`, 'redis-unavailable');
  }
  try {
    const r = await awaitMovement(redis, id, timeoutMs, 50);
    if (!r) {
      throw new CliError(
        `queued (request ${id}), but the writer did not commit it within ${Math.round(timeoutMs / 1000)} s; it stays queued and is idempotent on its ref: run the same command again to see the outcome`,
        'writer-timeout',
      );
    }
    if (!r.ok) throw movementError(r);
    return { applied: r.applied, seq: r.seq, ref: r.ref, kind: r.kind, amount: r.amount, balanceAfter: r.balanceAfter, balance: r.balance, hash: r.hash, committedBy: 'writer' };
  } finally {
    redis.disconnect();
  }
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Turn anything thrown into a CliError with a stable code. */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof AppError) return new CliError(err.message, err.code, EXIT.failed);
  if (err instanceof Error && err.name === 'ConfigError') return new CliError(err.message, 'invalid-config', EXIT.config);
  const e = err as { code?: string; message?: string };
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return new CliError(`database error: ${e.message}`, e.code.toLowerCase(), EXIT.failed);
  return new CliError(e.message ?? String(err), 'internal', EXIT.failed);
}
