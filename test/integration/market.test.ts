/**
 * The market end to end with real processes: ingest (synthetic source) → Redis → quoter → realtime
 * → a socket.io client; a Redis restart; the breaker opening when the feed stops.
 */
import test from 'ava';
import { io as connect, type Socket } from 'socket.io-client';
import { loadConfig } from '../../services/shared/config.js';
import { createLogger } from '../../services/shared/logger.js';
import { readBreaker } from '../../services/shared/market/breaker-store.js';
import { createTickStore } from '../../services/shared/market/tick-store.js';
import type { Quote } from '../../services/shared/market/quote-store.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { channels } from '../../services/shared/redis-names.js';
import { createSessionStore } from '../../services/shared/sessions.js';
import { tempDir, testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess, type Proc } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { get, startApi } from '../helpers/api.js';
import { publishTestQuote } from '../helpers/market-fixture.js';

let redis: TestRedis;
let env: Record<string, string>;
let client: Redis;
const procs: Proc[] = [];
const sockets: Socket[] = [];
let realtimeUrl = '';

test.before(async () => {
  redis = await startRedis();
  const [realtimePort, ingestPort, quoterPort] = [await freePort(), await freePort(), await freePort()];
  env = testEnv({
    dataDir: tempDir(),
    redis,
    extra: {
      TAPSTACK_FEED_SOURCES: 'synthetic',
      TAPSTACK_SYNTHETIC_TICK_MS: '50',
      TAPSTACK_SYNTHETIC_SEED: '42',
      TAPSTACK_BREAKER_STALE_SECONDS: '1',
      TAPSTACK_BREAKER_RECOVERY_SECONDS: '2',
      TAPSTACK_QUOTE_HZ: '4',
      TAPSTACK_REALTIME_PORT: String(realtimePort),
      TAPSTACK_INGEST_PORT: String(ingestPort),
      TAPSTACK_QUOTER_PORT: String(quoterPort),
      TAPSTACK_GRID_ROWS: '6',
      TAPSTACK_GRID_COLUMNS: '4',
    },
  });
  realtimeUrl = `http://127.0.0.1:${realtimePort}`;
  const config = loadConfig(env);
  client = createRedis(config, createLogger({ service: 'test', level: 'silent' }), 'test');
  procs.push(startProcess('services/ingest/main.js', env), startProcess('services/quoter/main.js', env), startProcess('services/realtime/main.js', env));
});

test.after.always(async () => {
  for (const s of sockets) s.disconnect();
  client?.disconnect();
  await Promise.all(procs.map((p) => p.stop('SIGTERM')));
  await redis?.stop();
});

function open(auth: Record<string, string> = {}): Socket {
  const s = connect(realtimeUrl, { transports: ['websocket'], auth, reconnectionDelay: 100, reconnectionDelayMax: 500 });
  sockets.push(s);
  return s;
}

function nextEvent<T>(s: Socket, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    s.once(event, (data: T) => {
      clearTimeout(t);
      resolve(data);
    });
  });
}

const config = () => loadConfig(env);

test.serial('prices and grid quotes stream to a socket.io client; the quote is transparent', async (t) => {
  const s = open();
  const price = await nextEvent<{ priceCents: number; ts: number }>(s, 'price');
  t.true(Number.isSafeInteger(price.priceCents) && price.priceCents > 0, JSON.stringify(price));
  const quote = await nextEvent<Quote>(s, 'quote');
  t.regex(quote.id, /^q\d+$/);
  t.true(quote.expiresAt > quote.createdAt);
  t.true(quote.sigma > 0);
  t.is(quote.edge, 0.05);
  t.is(quote.cells.length, 6 * 4);
  for (const c of quote.cells) {
    t.true(c.highCents - c.lowCents === 1000 && c.endMs - c.startMs === 5000, JSON.stringify(c));
    t.true(c.probability >= 0 && c.probability <= 1, JSON.stringify(c));
    t.true(Number.isInteger(c.multiplierCents));
  }
  // The ack envelope: snapshot returns the current quote, breaker and recent prices.
  const ack = await s.timeout(5000).emitWithAck('snapshot', {});
  t.true(ack.ok, JSON.stringify(ack).slice(0, 300));
  t.truthy(ack.data.quote?.id);
  t.true(ack.data.prices.length > 0, 'snapshot carries recent prices');
  t.true(['open', 'closed'].includes(ack.data.breaker.state));
  const bad = await s.timeout(5000).emitWithAck('snapshot', { sinceMs: 'yesterday' });
  t.like(bad, { ok: false, error: { code: 'invalid-payload' } });
  // Ticks are kept in the Redis stream for resolution.
  const store = createTickStore(client, { retentionMs: 86_400_000, now: Date.now, channel: 'unused' });
  const stored = await waitFor(async () => {
    const r = await store.range(Date.now() - 60_000, Date.now());
    return r.length > 5 && r;
  }, 'ticks in the stream');
  t.true(stored.every((x, i) => i === 0 || x.ts >= (stored[i - 1] as { ts: number }).ts), 'stream in time order');
});

test.serial('the API serves the current quote, the breaker, and shows it in /readyz details', async (t) => {
  const api = await startApi(redis, { TAPSTACK_REDIS_PREFIX: env.TAPSTACK_REDIS_PREFIX as string });
  t.teardown(() => api.stop());
  const grid = await waitFor(async () => {
    const r = await get(api.base, '/api/grid');
    return r.status === 200 && r;
  }, 'GET /api/grid');
  t.regex(grid.body.quote.id, /^q\d+$/);
  t.is(grid.body.quote.cells.length, 24);
  t.true(Math.abs(grid.body.serverTime - Date.now()) < 5000);
  const market = await get(api.base, '/api/market');
  t.true(['open', 'closed'].includes(market.body.breaker.state));
  const ready = await get(api.base, '/readyz');
  t.is(ready.status, 200);
  t.true(['open', 'closed'].includes(ready.body.details.breaker.state));

  // Another installation (prefix) with no feed: a clear 503, not an empty grid.
  const empty = await startApi(redis);
  t.teardown(() => empty.stop());
  const none = await get(empty.base, '/api/grid');
  t.is(none.status, 503);
  t.is(none.body.error.code, 'market-unavailable');
  t.is(none.headers.get('retry-after'), '1');
  t.is((await get(empty.base, '/api/market')).body.breaker.state, 'open');

  // Its newest quote expired (the quoter stalled, or Redis came back holding the last one from
  // before a restart): the same 503, not a grid on which every tap is refused quote-expired.
  const stale = await publishTestQuote(empty.redis, empty.config, { createdAt: Date.now() - 5000, expiresAt: Date.now() - 3000 });
  const expired = await get(empty.base, '/api/grid');
  t.is(expired.status, 503, JSON.stringify(expired.body));
  t.is(expired.body.error.code, 'market-unavailable');
  const fresh = await publishTestQuote(empty.redis, empty.config);
  const back = await get(empty.base, '/api/grid');
  t.is(back.status, 200);
  t.is(back.body.quote.id, fresh.id);
  t.not(fresh.id, stale.id);
});

test.serial('the breaker closes after continuously fresh prices', async (t) => {
  const view = await waitFor(async () => {
    const v = await readBreaker(client, Date.now(), config().breaker);
    return v.state === 'closed' && v;
  }, 'breaker closed', 15_000);
  t.is(view.state, 'closed');
  const s = open();
  const quote = await waitFor(async () => {
    const q = await nextEvent<Quote>(s, 'quote');
    return !q.halted && q;
  }, 'an open (not halted) quote');
  t.true(quote.cells.some((c) => !c.disabled && !c.locked));
});

test.serial('a signed-in socket joins its own room and receives its events; others do not', async (t) => {
  const sessions = createSessionStore(client, 3600);
  const alice = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B';
  const token = await sessions.create(alice, Date.now());
  const mine = open({ token });
  const anon = open();
  await nextEvent(mine, 'connect');
  const who = await mine.timeout(5000).emitWithAck('whoami', {});
  t.deepEqual(who, { ok: true, data: { address: alice } });
  const anonPrivate = await anon.timeout(5000).emitWithAck('private', {});
  t.like(anonPrivate, { ok: false, error: { code: 'not-signed-in' } });

  let leaked = false;
  anon.on('bet:confirmed', () => (leaked = true));
  const received = nextEvent<{ betId: string }>(mine, 'bet:confirmed');
  const event = JSON.stringify({ address: alice, event: 'bet:confirmed', eventId: 'b1:open', data: { betId: 'b1' } });
  await client.publish(channels(config().redis.prefix).userEvents, event);
  t.deepEqual(await received, { betId: 'b1', eventId: 'b1:open' });
  // The same event again (a redelivered batch re-sends it): the player is not told twice.
  let repeats = 0;
  mine.on('bet:confirmed', () => repeats++);
  await client.publish(channels(config().redis.prefix).userEvents, event);
  await new Promise((r) => setTimeout(r, 200));
  t.false(leaked);
  t.is(repeats, 0);

  const rejected = open({ token: 'x'.repeat(43) });
  const err = await nextEvent<Error & { data?: { code: string } }>(rejected, 'connect_error');
  t.is(err.data?.code, 'session-expired');
});

test.serial('the stream survives a Redis restart', async (t) => {
  const s = open();
  await nextEvent(s, 'price');
  await redis.kill();
  await new Promise((r) => setTimeout(r, 300));
  await redis.restart();
  // Realtime re-subscribes and ingest keeps publishing: prices flow again on the same socket.
  const after = await waitFor(async () => nextEvent<{ priceCents: number }>(s, 'price', 3000).catch(() => undefined), 'price after redis restart', 20_000);
  t.true(after.priceCents > 0);
  t.true(s.connected);
});

test.serial('when the feed stops the breaker opens, it is announced, and quotes are halted', async (t) => {
  const s = open();
  await nextEvent(s, 'price');
  const announced = nextEvent<{ state: string }>(s, 'breaker', 15_000);
  procs[0]!.child.kill('SIGSTOP'); // freeze ingest: no more prices, and nobody to announce...
  // ...so readers must see the breaker open from the record's age alone.
  const view = await waitFor(async () => {
    const v = await readBreaker(client, Date.now(), config().breaker);
    return v.state === 'open' && v;
  }, 'breaker open', 10_000);
  t.true((view.stalenessSeconds ?? 0) > 1);
  const halted = await waitFor(async () => {
    const q = await nextEvent<Quote>(s, 'quote', 3000);
    return q.halted && q;
  }, 'a halted quote', 10_000);
  t.true(halted.cells.every((c) => c.disabled && c.reason === 'breaker-open'));
  procs[0]!.child.kill('SIGCONT'); // ingest wakes, evaluates, and announces the transition
  const msg = await announced.catch(() => undefined);
  t.truthy(msg, 'ingest announced a breaker transition after waking');
});
