/** Resolver process: decides ended bets from the settlement series and queues the verdicts for the writer. */
import { createServer } from 'node:http';
import { channels } from '../shared/redis-names.js';
import { every } from '../shared/every.js';
import { createLifecycle } from '../shared/lifecycle.js';
import { createTickStore } from '../shared/market/tick-store.js';
import { createMetrics } from '../shared/metrics.js';
import { createProbeHandler } from '../shared/probe-server.js';
import { createRedis } from '../shared/redis.js';
import { bootConfig, openPrimaryDb } from '../shared/boot.js';
import { resolverReadiness } from './readiness.js';
import { createResolverMetrics } from './metrics.js';
import { createResolver } from './resolver.js';

const { config, log } = bootConfig('resolver');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const db = openPrimaryDb(config, log, { readonly: true });
const redis = createRedis(config, log, 'resolver');
const metrics = createMetrics('resolver');
const ticks = createTickStore(redis, { retentionMs: config.tickRetentionMs, now: Date.now, channel: channels(config.redis.prefix).ticks });
const resolver = createResolver({ config, log, db, redis, ticks, now: Date.now, metrics: createResolverMetrics(metrics.registry) });
const loop = every(config.resolver.intervalMs, () => resolver.runOnce(), { log, what: 'resolving' });

// "Recent": a few missed passes are tolerated (a slow pass, a Redis blip), a stuck loop is not.
const maxAgeMs = Math.max(10 * config.resolver.intervalMs, 10_000);
const ready = () => resolverReadiness({ db, redis, now: Date.now, lastRunAt: resolver.status().lastRunAt, maxAgeMs });
const probe = createServer(createProbeHandler({ metrics, ready }));
probe.listen(config.resolver.port, config.workers.host, () => log.info({ address: probe.address() }, 'resolver probe listening'));

lifecycle.onShutdown('stop resolving', () => loop.stop());
lifecycle.onShutdown('stop probe listener', () => new Promise<void>((resolve) => probe.close(() => resolve())));
lifecycle.onShutdown('close redis', () => redis.quit());
lifecycle.onShutdown('close database', () => db.close());
