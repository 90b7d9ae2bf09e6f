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
import { betKeys } from '../services/shared/betting/keys.js';
import { Redis } from 'ioredis';

/** Exit codes: documented in README "Admin CLI". */
export const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const;

/** A failure to report to the operator: message, stable code, exit status. */
export class CliError extends Error {
  constructor(message: string, readonly code: string, readonly exitCode: number = EXIT.failed) {
    super(message);
  }
}

export interface Context {
  config(): Config;
  /** The primary database; refuses a missing file or a schema that is not current. */
  db(opts?: { allowOutdated?: boolean; create?: boolean }): Db;
  operator: string;
  /**
   * Drop the available-balance cache of an address after an admin movement, so the writer reloads
   * it from SQLite on the next tap. Returns a warning when Redis cannot be reached.
   */
  invalidateBalance(address: string): Promise<string | undefined>;
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
    async invalidateBalance(address) {
      const c = ctx.config();
      const redis = new Redis(c.redis.url, {
        password: c.redis.password || undefined,
        keyPrefix: c.redis.prefix,
        lazyConnect: true,
        connectTimeout: 2000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      redis.on('error', () => undefined);
      try {
        await redis.connect();
        await redis.del(betKeys.balance(address));
        return undefined;
      } catch (err) {
        return `the ledger is updated, but Redis (${c.redis.url}) could not be reached to refresh the tap balance cache (${(err as Error).message}); it is rebuilt when the writer restarts`;
      } finally {
        redis.disconnect();
      }
    },
    close: () => db?.close(),
  };
  return ctx;
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
