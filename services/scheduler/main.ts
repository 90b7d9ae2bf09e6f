/** Scheduler process: cron jobs (daily ledger integrity check) plus a health/metrics listener. */
import { createServer } from 'node:http';
import path from 'node:path';
import cron from 'node-cron';
import { createLifecycle } from '../shared/lifecycle.js';
import { createMetrics, registerCertificateExpiry } from '../shared/metrics.js';
import { createRedis } from '../shared/redis.js';
import { bootConfig, openPrimaryDb } from '../shared/boot.js';
import { createIntegrityJob } from './integrity-job.js';
import { createProbeHandler } from '../shared/probe-server.js';
import { checkReadiness } from '../shared/readiness.js';

const { config, log } = bootConfig('scheduler');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const db = openPrimaryDb(config, log);
const redis = createRedis(config, log, 'scheduler');
const metrics = createMetrics('scheduler');
// The certificate nginx serves: the operator's, else the generated one (cli/setup/tls.ts).
registerCertificateExpiry(metrics.registry, config.appliance.tlsCertFile || path.join(config.appliance.tlsDir, 'cert.pem'));
const integrity = createIntegrityJob({ db, redis, metrics, log, now: Date.now });
await integrity.restore();

const task = cron.schedule(config.integrityCron, () => integrity.run(), { timezone: 'UTC', noOverlap: true, name: 'integrity' });
log.info({ cron: config.integrityCron, next: task.getNextRun() }, 'integrity check scheduled');

const ready = () => checkReadiness({ db, redis, now: Date.now, service: 'scheduler' });
const server = createServer(createProbeHandler({ metrics, ready }));
server.listen(config.scheduler.port, config.workers.host, () => log.info({ address: server.address() }, 'scheduler probe listening'));

lifecycle.onShutdown('stop cron', () => task.stop());
lifecycle.onShutdown('stop probe listener', () => new Promise<void>((resolve) => server.close(() => resolve())));
lifecycle.onShutdown('close redis', () => redis.quit());
lifecycle.onShutdown('checkpoint wal', () => db.checkpoint());
lifecycle.onShutdown('close database', () => db.close());
