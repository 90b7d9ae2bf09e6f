/** Realtime process: socket.io streams of prices, quotes, breaker state and per-player events. */
import fs from 'node:fs';
import { channels } from '../shared/redis-names.js';
import { createLifecycle } from '../shared/lifecycle.js';
import { createMetrics } from '../shared/metrics.js';
import { createRedis } from '../shared/redis.js';
import { bootConfig, openPrimaryDb } from '../shared/boot.js';
import { createSessionStore } from '../shared/sessions.js';
import { createRealtime } from './server.js';

const { config, log } = bootConfig('realtime');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const redis = createRedis(config, log, 'realtime');
const subscriber = createRedis(config, log, 'realtime-sub');
const metrics = createMetrics('realtime');
const sessions = createSessionStore(redis, config.session.ttlSeconds);
// Read-only, for bets:sync's recent bets. Realtime serves prices and quotes without it: before
// the first `tapstack migrate` there is no database yet, and a reconnect then syncs queued bets only.
const db = fs.existsSync(config.dbFile) ? openPrimaryDb(config, log, { readonly: true }) : undefined;
if (!db) log.warn({ file: config.dbFile }, 'no database yet: bets:sync sends queued bets only until realtime restarts');
const realtime = createRealtime({ config, log, redis, subscriber, sessions, metrics, channels: channels(config.redis.prefix), now: Date.now, db });
realtime.http.listen(config.realtime.port, config.realtime.host, () => log.info({ address: realtime.http.address() }, 'realtime listening'));

lifecycle.onShutdown('close sockets', () => realtime.close());
lifecycle.onShutdown('close redis', async () => {
  await subscriber.quit();
  await redis.quit();
});
lifecycle.onShutdown('close database', () => db?.close());
