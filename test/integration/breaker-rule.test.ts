/**
 * One breaker rule in two runtimes: the TypeScript rule (services/shared/market/breaker.ts, what
 * every reader and the quoter's `halted` evaluate) and its Lua copy inside the reservation script
 * (services/shared/betting/reserve.ts, what actually refuses a tap). A property test holds them
 * equal over the whole state space: records built by the real state machine from random price
 * sequences (fresh, stale, recovering, flapping, late and duplicate timestamps), read at clocks
 * around every boundary (and behind the writer's clock), plus arbitrary records the machine does
 * not produce. Both sides run for real: the record is stored by saveBreaker in a real Redis, read
 * back by readBreaker, and the real RESERVE script is run against it.
 */
import test from 'ava';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { BetCommand } from '../../services/shared/betting/commands.js';
import { createReserver, type Reserver } from '../../services/shared/betting/reserve.js';
import { evaluateBreaker, initialBreaker, onPrice, type BreakerConfig, type BreakerRecord, type BreakerState } from '../../services/shared/market/breaker.js';
import { readBreaker, saveBreaker } from '../../services/shared/market/breaker-store.js';
import { BREAKER_KEY } from '../../services/shared/redis-names.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/** Fixed, so a failure reproduces; fast-check prints the counterexample and its path. */
const SEED = 0x7a95_16;
const SEQUENCES = 200;
const RECORDS = 600;
/** A realistic epoch (ms): the script's numbers are Lua doubles, as large as production's. */
const T0 = 1_764_000_000_000;

let server: TestRedis | undefined;
let redis: Redis;
test.before(async () => {
  server = await startRedis();
  redis = new Redis({ port: server.port, host: '127.0.0.1', password: server.password, keyPrefix: 'breaker-rule:' });
});
test.after.always(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** What the Lua side decides at `now`: the script refuses with breaker-open, or gets past the breaker. */
const reservers = new WeakMap<BreakerConfig, Reserver>();
async function luaState(c: BreakerConfig, now: number): Promise<BreakerState> {
  let reserver = reservers.get(c);
  if (!reserver) reservers.set(c, (reserver = createReserver(redis, { staleAfterMs: c.staleAfterMs, recoveryMs: c.recoveryMs, ratePerSecond: 1e9, cellCap: 1e15, columnCap: 1e15, idempotencyTtlSeconds: 60 })));
  const bet: BetCommand = { t: 'bet', id: `b${Math.random().toString(36).slice(2)}`, address: '0xparity', quoteId: 'q1', lowCents: 100, highCents: 200, startMs: now + 60_000, endMs: now + 65_000, stake: 1, multiplierCents: 200, payout: 2, placedAt: now };
  // No balance cache is loaded: a tap past the breaker stops at the next check, reserving nothing.
  const r = await reserver.reserve(bet, { now });
  if (r.kind === 'refused' && r.code === 'breaker-open') return 'open';
  if (r.kind === 'refused' && r.code === 'balance-not-loaded') return 'closed';
  throw new Error(`unexpected reservation result ${JSON.stringify(r)}`);
}

type Region = 'no-record' | 'stale' | 'fresh-closed' | 'recovering' | 'recovered' | 'fresh-no-run';
const seen = new Map<string, number>();
const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);

function regionOf(r: BreakerRecord | undefined, now: number, c: BreakerConfig): Region {
  if (!r) return 'no-record';
  if (r.lastPriceTs === null || now - r.lastPriceTs > c.staleAfterMs) return 'stale';
  if (r.state === 'closed') return 'fresh-closed';
  if (r.freshSince === null) return 'fresh-no-run';
  return now - r.freshSince >= c.recoveryMs ? 'recovered' : 'recovering';
}

/** Store `r` (or nothing) as ingest does, then compare the TS reader and the Lua script at `now`. */
async function agreeAt(r: BreakerRecord | undefined, now: number, c: BreakerConfig): Promise<void> {
  if (r) await saveBreaker(redis, r);
  else await redis.del(BREAKER_KEY);
  const ts = (await readBreaker(redis, now, c)).state;
  const lua = await luaState(c, now);
  const region = regionOf(r, now, c);
  count(region);
  if (r?.lastPriceTs != null && now - r.lastPriceTs === c.staleAfterMs) count('boundary:stale');
  if (r?.freshSince != null && now - r.freshSince === c.recoveryMs) count('boundary:recovery');
  if (ts !== lua) throw new Error(`TypeScript says ${ts}, Lua says ${lua} (${region}) at now=${now} for ${JSON.stringify(r)} with ${JSON.stringify(c)}`);
}

/** Reader clocks worth probing for a record: each boundary, just either side, and random ones. */
function probes(r: BreakerRecord, clock: number, c: BreakerConfig, jitter: number[]): number[] {
  const out = [clock, ...jitter.map((j) => clock + j)];
  if (r.lastPriceTs !== null) out.push(r.lastPriceTs + c.staleAfterMs, r.lastPriceTs + c.staleAfterMs + 1, r.lastPriceTs - 1);
  if (r.freshSince !== null) out.push(r.freshSince + c.recoveryMs - 1, r.freshSince + c.recoveryMs, r.freshSince + c.recoveryMs + 1);
  return out;
}

const config = fc.record({
  staleAfterMs: fc.oneof(fc.constantFrom(1, 1_000, 10_000), fc.integer({ min: 1, max: 20_000 })),
  recoveryMs: fc.oneof(fc.constantFrom(1, 1_000, 30_000), fc.integer({ min: 1, max: 60_000 })),
});

/** One step of the feed, relative to the breaker's limits so every region is reached. */
const step = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('price' as const), gap: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(1, 0)) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('gap' as const), over: fc.constantFrom(0, 1, 2, 500) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('monitor' as const), gap: fc.double({ min: 0, max: 2, noNaN: true }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('late' as const), back: fc.integer({ min: 0, max: 5_000 }) }), weight: 1 },
);

test.serial('the Lua breaker check agrees with the TypeScript rule over random feeds', async (t) => {
  await fc.assert(
    fc.asyncProperty(config, fc.integer({ min: 0, max: 10_000_000 }), fc.array(step, { minLength: 2, maxLength: 24, size: 'max' }), fc.array(fc.integer({ min: -70_000, max: 70_000 }), { maxLength: 2 }), async (c, start, steps, jitter) => {
      let clock = T0 + start;
      let r = initialBreaker(clock);
      let staleGaps = 0;
      for (const s of steps) {
        // Prices arrive with gaps within the limit (fresh), exactly at it, or past it (a stale
        // gap); the monitor re-evaluates between prices; a late price carries an old timestamp.
        if (s.kind === 'price') clock += Math.round(s.gap * c.staleAfterMs);
        else if (s.kind === 'gap') clock += c.staleAfterMs + s.over;
        else if (s.kind === 'monitor') clock += Math.round(s.gap * c.staleAfterMs);
        if (s.kind === 'gap') staleGaps += 1;
        if (s.kind === 'monitor') r = evaluateBreaker(r, clock, c);
        else r = onPrice(r, s.kind === 'late' ? clock - s.back : clock, c);
        for (const now of probes(r, clock, c, jitter)) await agreeAt(r, now, c);
      }
      if (staleGaps >= 2 && steps.length >= 6) count('flapping');
      if (r.transitions >= 2) count('reopened-and-closed');
    }),
    { seed: SEED, numRuns: SEQUENCES },
  );
  t.pass();
});

test.serial('the Lua breaker check agrees with the TypeScript rule for any stored record, and for none', async (t) => {
  const time = fc.integer({ min: T0 - 100_000, max: T0 + 100_000 });
  const record = fc.record({
    state: fc.constantFrom('open' as const, 'closed' as const),
    lastPriceTs: fc.option(time, { nil: null }),
    freshSince: fc.option(time, { nil: null }),
    changedAt: time,
    transitions: fc.nat(5),
  });
  await fc.assert(
    fc.asyncProperty(config, fc.option(record, { nil: undefined, freq: 20 }), time, async (c, r, now) => {
      await agreeAt(r, now, c);
      if (r) for (const probe of probes(r, now, c, [])) await agreeAt(r, probe, c);
    }),
    { seed: SEED, numRuns: RECORDS },
  );
  t.pass();
});

test.serial('a stored record that is not the breaker\'s JSON, or lacks fields, is open on both sides (a 503, never a script error)', async (t) => {
  const c: BreakerConfig = { staleAfterMs: 5_000, recoveryMs: 2_000 };
  const now = T0;
  const raws = ['not json', '[]', '42', '"closed"', '{}', JSON.stringify({ state: 'closed' }), JSON.stringify({ state: 'open', lastPriceTs: now }), JSON.stringify({ lastPriceTs: now, freshSince: now - 10_000 }), JSON.stringify({ state: 'closed', lastPriceTs: String(now) })];
  for (const raw of raws) {
    await redis.set(BREAKER_KEY, raw);
    const ts = (await readBreaker(redis, now, c)).state;
    const lua = await luaState(c, now);
    t.is(lua, ts, raw);
  }
  // The last one has a fresh price time, but as a string: not evidence of a price on either side.
  t.is(await luaState(c, now), 'open', 'a string timestamp is not a price time');
});

test.serial('every region of the state space was visited, boundaries included', (t) => {
  const min: Record<string, number> = { 'no-record': 10, stale: 500, 'fresh-closed': 500, recovering: 500, recovered: 200, 'fresh-no-run': 20, 'boundary:stale': 200, 'boundary:recovery': 200, flapping: 30, 'reopened-and-closed': 30 };
  t.log(JSON.stringify(Object.fromEntries(seen)));
  for (const [k, n] of Object.entries(min)) t.true((seen.get(k) ?? 0) >= n, `${k}: ${seen.get(k) ?? 0} cases, want ${n}`);
});
