/** Ingest process: price sources → median settlement series in Redis → stale-feed breaker. */
import { createServer } from 'node:http';
import { channels } from '../shared/redis-names.js';
import { createLifecycle } from '../shared/lifecycle.js';
import { createMarketMetrics } from '../shared/market/metrics.js';
import { createTickStore } from '../shared/market/tick-store.js';
import { createMetrics } from '../shared/metrics.js';
import { createProbeHandler } from '../shared/probe-server.js';
import { redisCheck } from '../shared/readiness.js';
import { createRedis } from '../shared/redis.js';
import { bootConfig } from '../shared/boot.js';
import { createAggregator } from './aggregator.js';
import { createIngest } from './ingest.js';
import { sourcesFromConfig } from './sources-from-config.js';

const { config, log } = bootConfig('ingest');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const ch = channels(config.redis.prefix);
const redis = createRedis(config, log, 'ingest');
const metrics = createMetrics('ingest');
const market = createMarketMetrics(metrics.registry);
const ticks = createTickStore(redis, { retentionMs: config.tickRetentionMs, now: Date.now, channel: ch.ticks });
const { sources, recorder } = sourcesFromConfig(config, (err) => log.error({ err: err.message }, 'feed recorder failed'));
const aggregator = createAggregator({ staleAfterMs: config.feed.sourceStaleMs, maxDeviationBps: config.feed.maxDeviationBps, minSources: config.feed.minSources });
const ingest = createIngest({ log, redis, ticks, sources, aggregator, breaker: config.breaker, market, channels: ch, now: Date.now });
await ingest.start();

const ready = async () => {
  const s = ingest.status();
  const checks = { redis: await redisCheck(redis), writes: { ok: !s.writeFailing }, breaker: { ok: true, state: s.breaker?.state ?? 'open' } };
  return { ok: checks.redis.ok && checks.writes.ok, checks };
};
const probe = createServer(createProbeHandler({ metrics, ready }));
probe.listen(config.workers.ingestPort, config.workers.host, () => log.info({ address: probe.address() }, 'ingest probe listening'));

lifecycle.onShutdown('stop sources', () => ingest.stop());
lifecycle.onShutdown('flush recorder', () => recorder?.close());
lifecycle.onShutdown('stop probe listener', () => new Promise<void>((resolve) => probe.close(() => resolve())));
lifecycle.onShutdown('close redis', () => redis.quit());
