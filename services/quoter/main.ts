/** Quoter process: turns the settlement series into grid quotes at TAPSTACK_QUOTE_HZ. */
import { createServer } from 'node:http';
import { channels } from '../shared/redis-names.js';
import { every } from '../shared/every.js';
import { createLifecycle } from '../shared/lifecycle.js';
import { createMarketMetrics } from '../shared/market/metrics.js';
import { createTickStore, type SettlementTick } from '../shared/market/tick-store.js';
import { createMetrics } from '../shared/metrics.js';
import { createProbeHandler } from '../shared/probe-server.js';
import { redisCheck } from '../shared/readiness.js';
import { createRedis } from '../shared/redis.js';
import { bootConfig } from '../shared/boot.js';
import { createQuoter } from './quoter.js';

const { config, log } = bootConfig('quoter');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const ch = channels(config.redis.prefix);
const redis = createRedis(config, log, 'quoter');
const subscriber = createRedis(config, log, 'quoter-sub');
const metrics = createMetrics('quoter');
const market = createMarketMetrics(metrics.registry);
const ticks = createTickStore(redis, { retentionMs: config.tickRetentionMs, now: Date.now, channel: ch.ticks });
const quoter = createQuoter({ config, log, redis, ticks, market, channels: ch, now: Date.now });

subscriber.on('message', (_channel: string, message: string) => quoter.onTick(JSON.parse(message) as SettlementTick));
await subscriber.subscribe(ch.ticks);
log.info({ ticks: await quoter.warmUp() }, 'volatility warmed up from stored ticks');

const loop = every(Math.round(1000 / config.quotes.hz), () => quoter.quoteOnce(), { log, what: 'quoting', immediate: false, timeoutMs: 5_000 });

const ready = async () => {
  const checks = { redis: await redisCheck(redis), quoting: { ok: !loop.failing, lastQuoteAt: quoter.status().lastQuoteAt } };
  return { ok: checks.redis.ok && checks.quoting.ok, checks };
};
const probe = createServer(createProbeHandler({ metrics, ready }));
probe.listen(config.workers.quoterPort, config.workers.host, () => log.info({ address: probe.address() }, 'quoter probe listening'));

lifecycle.onShutdown('stop quoting', () => loop.stop());
lifecycle.onShutdown('stop probe listener', () => new Promise<void>((resolve) => probe.close(() => resolve())));
lifecycle.onShutdown('close redis', async () => {
  await subscriber.quit();
  await redis.quit();
});
