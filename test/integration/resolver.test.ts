/**
 * The resolver against a real Redis and a real migrated SQLite file: bets inserted open (as the
 * writer would), ticks appended through the tick store, verdicts read back from the writer's queue.
 * Each test has its own database and Redis key prefix, so they run in parallel.
 */
import test from 'ava';
import { Registry } from 'prom-client';
import { decodeCommand, type SettleCommand } from '../../services/shared/betting/commands.js';
import { channels, WRITER_STREAM } from '../../services/shared/redis-names.js';
import { loadConfig } from '../../services/shared/config.js';
import { openDb } from '../../services/shared/db/database.js';
import { createLogger } from '../../services/shared/logger.js';
import { saveBreaker } from '../../services/shared/market/breaker-store.js';
import { createTickStore, type TickStore } from '../../services/shared/market/tick-store.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { insertBet, settleBet, type BetRow } from '../../services/shared/repos/bets.repo.js';
import { createResolverMetrics } from '../../services/resolver/metrics.js';
import { createResolver } from '../../services/resolver/resolver.js';
import { freshDb, tempDir, testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

let redis: TestRedis;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const silent = createLogger({ service: 'resolver-test', level: 'silent' });
const ALICE = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B';
const P = 10_000_000; // $100,000.00
const BAND = { lowCents: 10_001_000, highCents: 10_002_000 }; // $10 above it
/** An hour ago, on a whole second: recent enough for the tick retention, far enough from real time. */
const T0 = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;

function setup(extra: Record<string, string> = {}) {
  const { dir, config, db } = freshDb({ TAPSTACK_REDIS_URL: redis.url, TAPSTACK_REDIS_PASSWORD: redis.password, TAPSTACK_BREAKER_STALE_SECONDS: '2', ...extra });
  const readonly = openDb(config.dbFile, { readonly: true });
  const client = createRedis(config, silent, 'resolver-test');
  const ticks = createTickStore(client, { retentionMs: config.tickRetentionMs, now: Date.now, channel: channels(config.redis.prefix).ticks });
  const clock = { now: T0 };
  const registry = new Registry();
  const resolver = createResolver({ config, log: silent, db: readonly, redis: client, ticks, now: () => clock.now, metrics: createResolverMetrics(registry) });
  const teardown = () => {
    client.disconnect();
    readonly.close();
    db.close();
  };
  return { dir, config, db, client, ticks, clock, registry, resolver, teardown };
}

let seq = 0;
function bet(db: Parameters<typeof insertBet>[0], b: Pick<BetRow, 'lowCents' | 'highCents' | 'startMs' | 'endMs'> & Partial<BetRow>): string {
  const id = b.id ?? `b${++seq}`;
  insertBet(db, { id, address: ALICE, quoteId: 'q1', stake: 100, multiplierCents: 250, state: 'open', payout: 0, reason: null, placedAt: b.startMs - 6000, committedAt: b.startMs - 5900, queueId: null, ...b });
  return id;
}

/** Append one tick every `step` ms over [from, to] (relative to T0), price from `price(ms)`; undefined = no tick. */
async function feed(ticks: TickStore, from: number, to: number, step: number, price: (dt: number) => number | undefined) {
  for (let dt = from; dt <= to; dt += step) {
    const p = price(dt);
    if (p !== undefined) await ticks.append({ ts: T0 + dt, priceCents: p });
  }
}

async function queued(client: Redis): Promise<SettleCommand[]> {
  const entries = (await client.xrange(WRITER_STREAM, '-', '+')) as [string, string[]][];
  return entries.map(([, fields]) => decodeCommand(fields[fields.indexOf('c') + 1] as string) as SettleCommand);
}

test('decides ended bets by the settlement rule, queues one command each, and does not resend while in flight', async (t) => {
  const s = setup();
  t.teardown(s.teardown);
  // Flat at P, a spike into the band at +12 s, and no ticks at all in (30 s, 40 s).
  await feed(s.ticks, 0, 60_000, 250, (dt) => (dt === 12_000 ? BAND.lowCents + 500 : dt > 30_000 && dt < 40_000 ? undefined : P));
  const w1 = { startMs: T0 + 10_000, endMs: T0 + 15_000 };
  const w2 = { startMs: T0 + 30_000, endMs: T0 + 35_000 };
  const w3 = { startMs: T0 + 50_000, endMs: T0 + 55_000 };
  const touched = bet(s.db, { ...BAND, ...w1 });
  const missed = bet(s.db, { lowCents: 10_003_000, highCents: 10_004_000, ...w1 });
  const gap = bet(s.db, { ...BAND, ...w2 });
  const heldAtGap = bet(s.db, { lowCents: 9_999_000, highCents: 10_000_500, ...w2 });
  const notEnded = bet(s.db, { ...BAND, ...w3 });
  bet(s.db, { ...BAND, ...w1, state: 'won', payout: 250 }); // already settled: never looked at

  s.clock.now = w3.endMs + 1000; // w3 ended, but less than the 1.5 s grace ago
  t.deepEqual(await s.resolver.runOnce(), { decided: 4, waiting: 0 });
  const first = await queued(s.client);
  t.deepEqual(
    Object.fromEntries(first.map((c) => [c.id, [c.outcome, c.reason]])),
    { [touched]: ['won', 'touched'], [missed]: ['lost', 'not-touched'], [gap]: ['void', 'feed-gap'], [heldAtGap]: ['won', 'touched'] },
  );
  t.true(first.every((c) => c.t === 'settle' && c.decidedAt === s.clock.now));
  t.false(first.some((c) => c.id === notEnded));

  // Nothing applied yet, a pass later: nothing is sent twice.
  s.clock.now += 400;
  t.deepEqual(await s.resolver.runOnce(), { decided: 0, waiting: 0 });
  t.is((await queued(s.client)).length, 4);

  // The writer applies three; the command for `heldAtGap` was lost. After the in-flight expiry it is
  // sent again, and w3 (now past its grace) is decided.
  for (const [id, state] of [[touched, 'won'], [missed, 'lost'], [gap, 'void']] as const) settleBet(s.db, id, { state, payout: 0, reason: 'test', at: s.clock.now, by: '0-1' });
  s.clock.now += 10_500;
  t.deepEqual(await s.resolver.runOnce(), { decided: 2, waiting: 0 });
  const second = (await queued(s.client)).slice(4);
  t.deepEqual(second.map((c) => [c.id, c.outcome]).sort(), [[heldAtGap, 'won'], [notEnded, 'lost']].sort());

  const metrics = await s.registry.metrics();
  t.regex(metrics, /tapstack_bets_decided_total\{outcome="won"\} 3/);
  t.regex(metrics, /tapstack_bets_decided_total\{outcome="void"\} 1/);
  t.regex(metrics, /tapstack_resolution_lag_seconds_count 6/);
  t.regex(metrics, new RegExp(`tapstack_resolver_last_run_timestamp_seconds ${s.clock.now / 1000}`));
});

test('while the feed is fresh it waits for a tick after the window end; a stale feed or the max wait decides with what exists', async (t) => {
  const s = setup({ TAPSTACK_RESOLVER_MAX_WAIT_MS: '20000' });
  t.teardown(s.teardown);
  const alive = (lastPriceTs: number) => saveBreaker(s.client, { state: 'closed', lastPriceTs, freshSince: T0, changedAt: T0, transitions: 1 });
  await feed(s.ticks, 0, 20_000, 250, () => P);
  const waits = bet(s.db, { ...BAND, startMs: T0 + 15_000, endMs: T0 + 20_000 });

  // Window ended 1.6 s ago, the newest tick is at its very end, the feed is fresh: wait.
  await alive(T0 + 20_000);
  s.clock.now = T0 + 21_600;
  t.deepEqual(await s.resolver.runOnce(), { decided: 0, waiting: 1 });
  t.is((await s.registry.getSingleMetric('tapstack_resolver_waiting_bets')?.get())?.values[0]?.value, 1);

  // A later tick arrives: the window is complete.
  await s.ticks.append({ ts: T0 + 21_700, priceCents: P });
  await alive(T0 + 21_700);
  s.clock.now = T0 + 21_800;
  t.deepEqual(await s.resolver.runOnce(), { decided: 1, waiting: 0 });

  // Then the feed stops. The next window ends, no tick follows, and once the feed is stale the bet
  // is decided from what exists: its tail is a gap, so void.
  const gapped = bet(s.db, { ...BAND, startMs: T0 + 20_000, endMs: T0 + 25_000 });
  s.clock.now = T0 + 26_600;
  t.deepEqual(await s.resolver.runOnce(), { decided: 1, waiting: 0 });

  // A breaker record claiming a fresh feed while no tick ever comes: decided after the max wait.
  for (const [id, state] of [[waits, 'lost'], [gapped, 'void']] as const) settleBet(s.db, id, { state, payout: 0, reason: 'test', at: s.clock.now, by: '0-1' });
  const stuck = bet(s.db, { ...BAND, startMs: T0 + 25_000, endMs: T0 + 30_000 });
  s.clock.now = T0 + 49_000;
  await alive(s.clock.now);
  t.deepEqual(await s.resolver.runOnce(), { decided: 0, waiting: 1 });
  s.clock.now = T0 + 50_000;
  await alive(s.clock.now);
  t.deepEqual(await s.resolver.runOnce(), { decided: 1, waiting: 0 });

  t.deepEqual(
    (await queued(s.client)).map((c) => [c.id, c.outcome, c.reason]),
    [
      [waits, 'lost', 'not-touched'],
      [gapped, 'void', 'feed-gap'],
      [stuck, 'void', 'feed-gap'],
    ],
  );
});

test('the resolver process settles through the queue, is ready, and exits 0 on SIGTERM', async (t) => {
  const s = setup();
  t.teardown(s.teardown);
  const port = await freePort();
  const env = testEnv({
    dataDir: s.dir,
    redis,
    extra: { TAPSTACK_REDIS_PREFIX: s.config.redis.prefix, TAPSTACK_RESOLVER_PORT: String(port), TAPSTACK_RESOLVER_INTERVAL_MS: '100', TAPSTACK_LOG_LEVEL: 'info' },
  });
  const now = Date.now();
  await feed(s.ticks, now - T0 - 25_000, now - T0 - 10_000, 500, (dt) => (dt === now - T0 - 17_000 ? BAND.highCents : P));
  const id = bet(s.db, { ...BAND, startMs: now - 20_000, endMs: now - 15_000 });

  const proc = startProcess('services/resolver/main.js', env);
  t.teardown(() => proc.stop('SIGKILL'));
  const ready = await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    return res.status === 200 && ((await res.json()) as any);
  }, 'resolver /readyz');
  t.like(ready, { status: 'ready', checks: { redis: { ok: true }, sqlite: { ok: true }, resolving: { ok: true } } });
  const cmd = await waitFor(async () => (await queued(s.client)).find((c) => c.id === id), 'settle command from the process');
  t.like(cmd, { t: 'settle', outcome: 'won', reason: 'touched' });
  t.regex(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /tapstack_bets_decided_total\{outcome="won",service="resolver"\} 1/);

  t.is(await proc.stop('SIGTERM'), 0);
  t.regex(proc.output(), /"msg":"shutdown complete"/);
});

test('the resolver process refuses to start without a migrated database', async (t) => {
  const env = testEnv({ dataDir: tempDir(), redis, extra: { TAPSTACK_RESOLVER_PORT: String(await freePort()), TAPSTACK_LOG_LEVEL: 'info' } });
  loadConfig(env); // the environment itself is valid
  const proc = startProcess('services/resolver/main.js', env);
  t.is(await proc.exited, 1);
  t.regex(proc.output(), /run `tapstack migrate` first/);
});
