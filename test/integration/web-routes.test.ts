/** The API routes the web app adds: public client settings and a bet's settlement ticks. */
import test from 'ava';
import { Wallet } from 'ethers';
import { channels } from '../../services/shared/redis-names.js';
import { createTickStore } from '../../services/shared/market/tick-store.js';
import { insertBet } from '../../services/shared/repos/bets.repo.js';
import { get, startApi, type TestApi } from '../helpers/api.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { signIn } from '../helpers/wallet.js';

let redis: TestRedis;
let api: TestApi;

test.before(async () => {
  redis = await startRedis();
  api = await startApi(redis, { TAPSTACK_DEMO_MODE: 'true', TAPSTACK_STAKE_MIN: '0.50', TAPSTACK_STAKE_MAX: '25', TAPSTACK_SIWE_CHAIN_IDS: '1,8453', TAPSTACK_BREAKER_STALE_SECONDS: '3' });
});

test.after.always(async () => {
  await api?.stop();
  await redis?.stop();
});

test('GET /api/client gives the stake limits, currency, chains and demo mode, without a session', async (t) => {
  const r = await get(api.base, '/api/client');
  t.is(r.status, 200);
  t.deepEqual(r.body.stake, { min: 50, max: 2500 });
  t.deepEqual(r.body.currency, { code: 'USD', decimals: 2 });
  t.deepEqual(r.body.chainIds, [1, 8453]);
  t.is(r.body.demoMode, true);
  t.is(r.body.demoGrant, 100_000);
  t.is(typeof r.body.grid.columns, 'number');
});

test('GET /api/bets/:id/ticks: the window ticks with context, the prevailing price and the observed range; only for the owner', async (t) => {
  const owner = new Wallet(Wallet.createRandom().privateKey);
  const other = new Wallet(Wallet.createRandom().privateKey);
  const ownerToken = await signIn(api.base, owner);
  const otherToken = await signIn(api.base, other);
  const start = Date.now() - 20_000;
  const end = start + 5000;
  const ticks = createTickStore(api.redis, { retentionMs: api.config.tickRetentionMs, now: Date.now, channel: channels(api.config.redis.prefix).ticks });
  // Before the window (context; the last one prevails at the start), inside it, after it.
  const series: [number, number][] = [[start - 6000, 10_000_000], [start - 1000, 10_000_500], [start + 1000, 10_001_200], [start + 4000, 9_999_800], [end + 1000, 10_005_000], [end + 9000, 10_006_000]];
  for (const [ts, priceCents] of series) await ticks.append({ ts, priceCents });
  insertBet(api.db, { id: 'bwebticks0001', address: owner.address, quoteId: 'q1', lowCents: 10_001_000, highCents: 10_002_000, startMs: start, endMs: end, stake: 100, multiplierCents: 250, state: 'won', payout: 250, reason: 'touched', placedAt: start - 3000, committedAt: start - 2990, queueId: null });

  const r = await get(api.base, '/api/bets/bwebticks0001/ticks', { authorization: `Bearer ${ownerToken}` });
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(r.body.bet.state, 'won');
  t.deepEqual(r.body.prevailing, { ts: start - 1000, priceCents: 10_000_500 });
  t.deepEqual(r.body.observed, { highCents: 10_001_200, lowCents: 9_999_800, count: 3 });
  t.deepEqual(r.body.ticks.map((x: { ts: number }) => x.ts), [start - 1000, start + 1000, start + 4000, end + 1000], 'window plus 5 s of context either side');
  t.is(r.body.quote, null, 'the quote is gone from Redis');

  t.is((await get(api.base, '/api/bets/bwebticks0001/ticks', { authorization: `Bearer ${otherToken}` })).body.error.code, 'bet-unknown');
  t.is((await get(api.base, '/api/bets/bnosuchbet/ticks', { authorization: `Bearer ${ownerToken}` })).status, 404);
  t.is((await get(api.base, '/api/bets/bwebticks0001/ticks')).status, 401);
});
