import test from 'ava';
import fc from 'fast-check';
import type { SettlementTick } from '../../services/shared/market/tick-store.js';
import { decideBet, type BetWindow } from '../../services/resolver/decide.js';

// A $10 band just above a $100,000 price, in a 5-s window; the feed is stale after 2 s.
const S = 1_700_000_000_000;
const E = S + 5_000;
const LOW = 10_001_000;
const HIGH = 10_002_000;
const BET: BetWindow = { lowCents: LOW, highCents: HIGH, startMs: S, endMs: E };
const STALE = 2_000;

/** A recorded path: [ms relative to window start, price in cents]. */
const path = (...points: [number, number][]): SettlementTick[] => points.map(([dt, priceCents]) => ({ ts: S + dt, priceCents }));
/** Ticks every `step` ms from `from` to `to` (relative to window start) at one price. */
const flat = (from: number, to: number, step: number, priceCents: number): [number, number][] => {
  const out: [number, number][] = [];
  for (let dt = from; dt <= to; dt += step) out.push([dt, priceCents]);
  return out;
};
const decide = (ticks: SettlementTick[], bet: BetWindow = BET) => decideBet(bet, ticks, { staleAfterMs: STALE });

const P = 10_000_000; // $100,000.00, below the band
const WON = { outcome: 'won', reason: 'touched' };
const LOST = { outcome: 'lost', reason: 'not-touched' };
const VOID = { outcome: 'void', reason: 'feed-gap' };

test('a price equal to the band bottom touches', (t) => {
  t.deepEqual(decide(path(...flat(-500, 2000, 250, P), [2250, LOW], ...flat(2500, 5500, 250, P))), WON);
});

test('a price equal to the band top touches (from above)', (t) => {
  const above = HIGH + 5_000;
  t.deepEqual(decide(path(...flat(-500, 3000, 250, above), [3250, HIGH], ...flat(3500, 5500, 250, above))), WON);
});

test('one cent short of the band, from below or from above, loses', (t) => {
  t.deepEqual(decide(path(...flat(-500, 2000, 250, P), [2250, LOW - 1], ...flat(2500, 5500, 250, P))), LOST);
  const above = HIGH + 5_000;
  t.deepEqual(decide(path(...flat(-500, 2000, 250, above), [2250, HIGH + 1], ...flat(2500, 5500, 250, above))), LOST);
});

test('two consecutive ticks straddling the band touch it, as the chart line does', (t) => {
  t.deepEqual(decide(path(...flat(-500, 2000, 250, P), [2250, LOW - 1], [2500, HIGH + 1], ...flat(2750, 5500, 250, HIGH + 500))), WON);
  // And from above to below.
  t.deepEqual(decide(path(...flat(-500, 2000, 250, HIGH + 700), [2250, LOW - 300], ...flat(2500, 5500, 250, P))), WON);
});

test('the price prevailing at window start counts: inside the band at start wins', (t) => {
  const inside = LOW + 500;
  // Last tick before the window is inside the band; the price leaves it before any tick in the window.
  t.deepEqual(decide(path([-1500, P], [-300, inside], ...flat(200, 5500, 250, P))), WON);
});

test('a tick before the prevailing one does not count', (t) => {
  // Inside the band 400 ms before the window, but superseded by an outside price before it opens.
  t.deepEqual(decide(path([-400, LOW + 1], [-1, P], ...flat(200, 5500, 250, P))), LOST);
});

test('a gap in the middle of the window without a touch voids the bet', (t) => {
  t.deepEqual(decide(path(...flat(-500, 1000, 250, P), ...flat(3500, 5500, 250, P))), VOID);
});

test('a gap no longer than staleAfterMs is not a gap', (t) => {
  t.deepEqual(decide(path(...flat(-500, 1000, 250, P), ...flat(3000, 5500, 250, P))), LOST);
});

test('a gap, but touched before it: won', (t) => {
  t.deepEqual(decide(path(...flat(-500, 500, 250, P), [750, LOW + 10], ...flat(1000, 1000, 250, P), ...flat(4000, 5500, 250, P))), WON);
});

test('a straddle across a gap counts as a touch', (t) => {
  t.deepEqual(decide(path(...flat(-500, 1000, 250, P), ...flat(4000, 5500, 250, HIGH + 100))), WON);
});

test('no prevailing price (the feed started mid-window) and no touch: void', (t) => {
  t.deepEqual(decide(path(...flat(1000, 5500, 250, P))), VOID);
  t.deepEqual(decide([]), VOID);
});

test('no prevailing price but touched in the data that exists: won', (t) => {
  t.deepEqual(decide(path(...flat(1000, 3000, 250, P), [3250, HIGH], ...flat(3500, 5500, 250, P))), WON);
});

test('a stale price before the window is not a prevailing price, even inside the band', (t) => {
  // Inside the band 2.5 s before the window opens (older than staleAfterMs), then nothing until 300 ms in.
  t.deepEqual(decide(path([-2500, LOW + 1], ...flat(300, 5500, 250, P))), VOID);
  // Exactly staleAfterMs old is still fresh.
  t.deepEqual(decide(path([-STALE, LOW + 1], ...flat(0 + 250, 5500, 250, P))), WON);
  t.deepEqual(decide(path([-STALE - 1, P], ...flat(250, 5500, 250, P))), VOID);
});

test('a late tick (received after the window end) inside the band is not counted: lost', (t) => {
  t.deepEqual(decide(path(...flat(-500, 5000, 250, P), [5001, LOW + 1], ...flat(5250, 6000, 250, P))), LOST);
});

test('ticks exactly at the window start and end count', (t) => {
  // At startMs, inside, then out.
  t.deepEqual(decide(path([-300, P], [0, LOW], ...flat(250, 5500, 250, P))), WON);
  // At endMs, inside.
  t.deepEqual(decide(path(...flat(-500, 4750, 250, P), [5000, HIGH], [5250, P])), WON);
  // One ms after endMs: late.
  t.deepEqual(decide(path(...flat(-500, 4750, 250, P), [5001, HIGH], [5250, P])), LOST);
});

test('every tick stamped exactly startMs is a price in the window, not only the last', (t) => {
  t.deepEqual(decide(path([-300, P], [0, LOW + 1], [0, P], ...flat(250, 5500, 250, P))), WON);
});

test('the last span is measured to the window end only: a quiet spell that turns stale after it is no gap', (t) => {
  // Last tick 100 ms before the end, nothing for long after: the price was fresh at every instant of the window.
  t.deepEqual(decide(path(...flat(-500, 4900, 100, P), [9000, P])), LOST);
  t.deepEqual(decide(path(...flat(-500, 4900, 100, P))), LOST);
  // Last tick more than staleAfterMs before the end: the window's tail is a gap.
  t.deepEqual(decide(path(...flat(-500, 2999, 250, P))), VOID);
  t.deepEqual(decide(path(...flat(-500, 2750, 250, P), [3000, P])), LOST);
});

test('malformed input is refused', (t) => {
  t.throws(() => decide([], { ...BET, highCents: LOW }), { instanceOf: RangeError });
  t.throws(() => decide([], { ...BET, endMs: S }), { instanceOf: RangeError });
  t.throws(() => decideBet(BET, [], { staleAfterMs: 0 }), { instanceOf: RangeError });
});

// A random dense path (no gaps) around the band: ticks every 1-1000 ms from before the window to after it.
const densePath = fc
  .tuple(fc.integer({ min: 0, max: 1000 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: LOW - 3000, max: HIGH + 3000 })), { minLength: 20, maxLength: 60 }))
  .map(([offset, steps]) => {
    let ts = S - offset;
    return steps.map(([dt, priceCents]) => {
      const tick = { ts, priceCents };
      ts += dt;
      return tick;
    });
  })
  .filter((ticks) => (ticks.at(-1)?.ts ?? 0) >= E);

test('property: ticks after the window end never change the decision', (t) => {
  fc.assert(
    fc.property(densePath, fc.array(fc.integer({ min: LOW - 3000, max: HIGH + 3000 }), { maxLength: 10 }), (ticks, late) => {
      const inWindow = ticks.filter((x) => x.ts <= E);
      const extra = late.map((priceCents, i) => ({ ts: E + 1 + i * 100, priceCents }));
      return JSON.stringify(decide(inWindow)) === JSON.stringify(decide([...inWindow, ...extra]));
    }),
  );
  t.pass();
});

test('property: without gaps, won iff the chart line through the observed prices meets the band', (t) => {
  fc.assert(
    fc.property(densePath, (ticks) => {
      const prevailing = ticks.filter((x) => x.ts <= S).at(-1);
      const seen = [...(prevailing ? [prevailing] : []), ...ticks.filter((x) => x.ts > S && x.ts <= E)].map((x) => x.priceCents);
      const line = seen.some((p) => p >= LOW && p <= HIGH) || seen.some((p, i) => i > 0 && Math.min(p, seen[i - 1] as number) <= HIGH && Math.max(p, seen[i - 1] as number) >= LOW);
      const d = decideBet(BET, ticks, { staleAfterMs: 1_000 });
      return d.outcome === (line ? 'won' : 'lost');
    }),
  );
  t.pass();
});
