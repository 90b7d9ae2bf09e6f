/**
 * Quote ids across a Redis that restarted without its last writes: the quoter does not hand out
 * a version again, and should an id come back anyway (the quoter restarted too), the API's cache
 * judges a tap on the new quote, not a cached namesake.
 */
import test from 'ava';
import { Registry } from 'prom-client';
import { createQuoteCache } from '../../services/api/quote-cache.js';
import { createQuoter } from '../../services/quoter/quoter.js';
import { loadConfig } from '../../services/shared/config.js';
import { createLogger } from '../../services/shared/logger.js';
import { createMarketMetrics } from '../../services/shared/market/metrics.js';
import { createTickStore } from '../../services/shared/market/tick-store.js';
import { createRedis } from '../../services/shared/redis.js';
import { channels, quoteKeys } from '../../services/shared/redis-names.js';
import { tempDir, testEnv } from '../helpers/env.js';
import { publishTestQuote } from '../helpers/market-fixture.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis-server.js';

test('a quote id handed out again after a Redis restart is read afresh', async (t) => {
  // Not persistent: the restart loses everything, the extreme of a crash under everysec.
  const server = await startRedis();
  t.teardown(() => server.stop());
  const config = loadConfig(testEnv({ dataDir: tempDir(), redis: server }));
  const redis = createRedis(config, createLogger({ service: 'test', level: 'silent' }), 'quote-cache-test');
  t.teardown(() => redis.disconnect());
  const cache = createQuoteCache(redis);

  const old = await publishTestQuote(redis, config, { id: 'q777', createdAt: Date.now() - 5000, expiresAt: Date.now() - 3000 });
  t.is((await cache.get('q777'))?.quote.expiresAt, old.expiresAt);

  let readyAgain = false;
  redis.once('ready', () => (readyAgain = true));
  await server.kill();
  await server.restart();
  await waitFor(() => readyAgain, 'the connection back after the restart', 30_000);
  t.is(await redis.exists(quoteKeys.byId('q777')), 0, 'the restart lost the old quote');
  const fresh = await publishTestQuote(redis, config, { id: 'q777' });
  t.true(fresh.expiresAt > Date.now());
  t.is((await cache.get('q777'))?.quote.expiresAt, fresh.expiresAt, 'the new q777, not the cached old one');
});

test('the quoter never hands out a version again after Redis forgot its last increments', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const config = loadConfig(testEnv({ dataDir: tempDir(), redis: server }));
  const log = createLogger({ service: 'test', level: 'silent' });
  const redis = createRedis(config, log, 'quoter-version-test');
  t.teardown(() => redis.disconnect());
  const ch = channels(config.redis.prefix);
  const ticks = createTickStore(redis, { retentionMs: 60_000, now: Date.now, channel: ch.ticks });
  const quoter = createQuoter({ config, log, redis, ticks, market: createMarketMetrics(new Registry()), channels: ch, now: Date.now });
  quoter.onTick({ ts: Date.now(), priceCents: 10_000_000 });
  const versions: number[] = [];
  for (let i = 0; i < 3; i++) versions.push((await quoter.quoteOnce())!.version);
  // The counter as a Redis that restarted without its last second of writes holds it.
  await redis.set(quoteKeys.version, String((versions[0] as number) - 1));
  const next = (await quoter.quoteOnce())!;
  t.is(next.version, (versions[2] as number) + 1, `versions ${versions.join(', ')} then ${next.version}`);
  t.is(next.id, `q${next.version}`);
});
