/**
 * The API's quote cache across a Redis that restarted without its last writes: quote ids come
 * again, for new quotes, and a tap must be judged on the new quote, not a cached namesake.
 */
import test from 'ava';
import { createQuoteCache } from '../../services/api/quote-cache.js';
import { loadConfig } from '../../services/shared/config.js';
import { createLogger } from '../../services/shared/logger.js';
import { createRedis } from '../../services/shared/redis.js';
import { quoteKeys } from '../../services/shared/redis-names.js';
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
