/**
 * Start-up helpers every process shares: config (exit 78 with every problem listed), root logger,
 * masked config log line, database open + schema check.
 */
import { ConfigError, loadConfig, logLevelFor, maskedConfig, type Config } from './config.js';
import { CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES, openDb, type Db } from './db/database.js';
import { migrationStatus } from './db/migrate.js';
import { createLogger, type Logger } from './logger.js';

/** EX_CONFIG from sysexits.h: supervisors show it as a configuration error, not a crash. */
export const EXIT_CONFIG = 78;

export function bootConfig(service: string, env: NodeJS.ProcessEnv = process.env): { config: Config; log: Logger } {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tapstack ${service}: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  const log = createLogger({ service, level: logLevelFor(config, service) });
  log.info({ config: maskedConfig(config) }, 'configuration loaded');
  return { config, log };
}

/**
 * Whether the writer runs a checkpoint thread (services/writer/checkpointer.ts): always, except in
 * continuous backup mode, where the WAL shipper owns checkpoints.
 */
export const checkpointThreadWanted = (config: Config): boolean => !config.backup.continuous;

/**
 * Open the primary database and refuse to run on a schema that is not exactly current. In
 * continuous backup mode the WAL shipper owns checkpoints (see `OpenOptions.walAutocheckpoint`);
 * `checkpointThread` (the writer, when checkpointThreadWanted) leaves them to its checkpoint thread.
 */
export function openPrimaryDb(config: Config, log: Logger, opts: { readonly?: boolean; checkpointThread?: boolean } = {}): Db {
  let db: Db;
  try {
    db = opts.readonly
      ? // Read-only processes (the resolver): writes go through the writer's queue, by construction.
        openDb(config.dbFile, { readonly: true })
      : openDb(config.dbFile, {
          synchronous: config.sqlite.synchronous,
          ...(config.backup.continuous ? { walAutocheckpoint: CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES } : {}),
          ...(opts.checkpointThread ? { checkpointThread: true } : {}),
        });
  } catch (err) {
    log.fatal({ file: config.dbFile, err: (err as Error).message }, 'cannot open the database: run `tapstack migrate` first');
    process.exit(1);
  }
  const status = migrationStatus(db);
  if (status.current !== status.latest) {
    db.close();
    log.fatal({ current: status.current, latest: status.latest }, 'database schema is not current: run `tapstack migrate` first');
    process.exit(1);
  }
  return db;
}
