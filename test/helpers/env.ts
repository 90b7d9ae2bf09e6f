/** Test environments: a fresh data directory and the TAPSTACK_* variables pointing at test servers. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../services/shared/config.js';
import { openDb, type Db } from '../../services/shared/db/database.js';
import { migrate } from '../../services/shared/db/migrate.js';
import type { TestRedis } from './redis-server.js';

export function tempDir(prefix = 'tapstack-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Env for a process under test: own data dir, own Redis key prefix, quiet logs. */
export function testEnv(opts: { dataDir: string; redis?: TestRedis; extra?: Record<string, string> }): Record<string, string> {
  const env: Record<string, string> = {
    TAPSTACK_DATA_DIR: opts.dataDir,
    TAPSTACK_LOG_LEVEL: 'warn',
    TAPSTACK_REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
    TAPSTACK_SQLITE_SYNCHRONOUS: 'NORMAL',
    ...opts.extra,
  };
  if (opts.redis) {
    env.TAPSTACK_REDIS_URL = opts.redis.url;
    env.TAPSTACK_REDIS_PASSWORD = opts.redis.password;
  }
  return env;
}

/** A migrated database in a fresh directory, plus the config that names it. */
export function freshDb(extra: Record<string, string> = {}): { dir: string; config: Config; db: Db } {
  const dir = tempDir();
  const config = loadConfig(testEnv({ dataDir: dir, extra }));
  const db = openDb(config.dbFile, { synchronous: 'NORMAL' });
  migrate(db);
  return { dir, config, db };
}

/** The process environment minus any TAPSTACK_* the developer's shell may carry. */
export function cleanProcessEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TAPSTACK_') && v !== undefined) out[k] = v;
  return out;
}
