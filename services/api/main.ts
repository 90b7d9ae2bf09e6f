/** API process: wires dependencies by hand and serves HTTP until SIGTERM. */
import { createServer } from 'node:http';
import { createLifecycle } from '../shared/lifecycle.js';
import { createMetrics } from '../shared/metrics.js';
import { createRedis } from '../shared/redis.js';
import { bootConfig, openPrimaryDb } from '../shared/boot.js';
import { createSessionStore } from '../shared/sessions.js';
import { createApiListener } from './app.js';
import { createAdmission } from './admission.js';

const { config, log } = bootConfig('api');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const db = openPrimaryDb(config, log);
const redis = createRedis(config, log, 'api');
const metrics = createMetrics('api');
const sessions = createSessionStore(redis, config.session.ttlSeconds);
const admission = createAdmission({ config, redis, log, metrics });
const listener = createApiListener({ config, log, db, redis, metrics, sessions, now: Date.now, admission });

const server = createServer(listener);
server.keepAliveTimeout = 65_000;
server.listen(config.http.port, config.http.host, () => {
  log.info({ address: server.address() }, 'api listening');
});

lifecycle.onShutdown('stop accepting', () => new Promise<void>((resolve) => {
  server.close(() => resolve());
  server.closeIdleConnections();
}));
lifecycle.onShutdown('stop admission sampling', () => admission.stop());
lifecycle.onShutdown('close redis', () => redis.quit());
lifecycle.onShutdown('checkpoint wal', () => db.checkpoint());
lifecycle.onShutdown('close database', () => db.close());
