/** Redis connections: every key under the configured prefix, reconnect forever with capped backoff. */
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export type { Redis };

export function createRedis(config: Config, log: Logger, name: string): Redis {
  const redis = new Redis(config.redis.url, {
    password: config.redis.password || undefined,
    keyPrefix: config.redis.prefix,
    connectionName: `tapstack-${name}`,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000) + Math.floor(Math.random() * 100),
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ module: 'redis', err: err.message }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info({ module: 'redis' }, 'redis connection restored');
    down = false;
  });
  return redis;
}
