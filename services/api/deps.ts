import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db/database.js';
import type { Logger } from '../shared/logger.js';
import type { Metrics } from '../shared/metrics.js';
import type { Redis } from '../shared/redis.js';
import type { SessionStore } from '../shared/sessions.js';

/** Everything the API needs, wired by hand in main.ts (or a test). */
export interface ApiDeps {
  config: Config;
  log: Logger;
  db: Db;
  redis: Redis;
  metrics: Metrics;
  sessions: SessionStore;
  now: () => number;
}
