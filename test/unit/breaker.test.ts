import test from 'ava';
import { breakerStateAt, evaluateBreaker, initialBreaker, onPrice, stalenessSeconds, type BreakerRecord } from '../../services/shared/market/breaker.js';

const cfg = { staleAfterMs: 10_000, recoveryMs: 30_000 };

/** Feed a real price every `everyMs` from `from` to `to` (inclusive), evaluating each second too. */
function feed(r: BreakerRecord, from: number, to: number, everyMs: number): BreakerRecord {
  for (let t = from; t <= to; t += everyMs) r = onPrice(r, t, cfg);
  return r;
}

test('starts open: no price has been seen', (t) => {
  const r = initialBreaker(0);
  t.is(breakerStateAt(r, 0, cfg), 'open');
  t.is(stalenessSeconds(r, 0), Infinity);
});

test('fresh for 30 s closes; stale at 10 s opens; fresh again stays open for 30 s, then closes', (t) => {
  let r = initialBreaker(0);
  r = feed(r, 0, 29_000, 1_000);
  t.is(r.state, 'open', 'only 29 s of fresh prices');
  r = onPrice(r, 30_000, cfg);
  t.is(r.state, 'closed', '30 s of continuously fresh prices');
  t.is(r.transitions, 1);

  // Feed stops at 30 s: at 40 s the price is exactly 10 s old (still fresh), just after it is stale.
  t.is(breakerStateAt(r, 40_000, cfg), 'closed');
  t.is(breakerStateAt(r, 40_001, cfg), 'open');
  r = evaluateBreaker(r, 40_001, cfg);
  t.is(r.state, 'open');
  t.is(r.transitions, 2);
  t.is(stalenessSeconds(r, 40_001), 10.001);

  // Prices return at 50 s: fresh, but the breaker stays open for 30 s of continuous freshness.
  r = feed(r, 50_000, 79_000, 500);
  t.is(r.state, 'open');
  t.is(breakerStateAt(r, 79_999, cfg), 'open');
  r = onPrice(r, 80_000, cfg);
  t.is(r.state, 'closed');
  t.is(r.transitions, 3);
});

test('a flapping feed never closes early', (t) => {
  let r = initialBreaker(0);
  // 25 s fresh, 11 s silent, 25 s fresh, 11 s silent...: never 30 s continuous.
  let t0 = 0;
  for (let i = 0; i < 6; i += 1) {
    r = feed(r, t0, t0 + 25_000, 1_000);
    t.is(r.state, 'open', `cycle ${i}`);
    t0 += 25_000 + 11_000;
    r = evaluateBreaker(r, t0 - 1, cfg);
    t.is(r.state, 'open');
  }
  t.is(r.transitions, 0);
});

test('heartbeats are not prices: only onPrice refreshes, so a link with heartbeats but no trades goes stale', (t) => {
  let r = feed(initialBreaker(0), 0, 30_000, 1_000);
  t.is(r.state, 'closed');
  // Only heartbeats for 15 s: nothing calls onPrice.
  r = evaluateBreaker(r, 45_000, cfg);
  t.is(r.state, 'open');
});

test('a gap just under the stale limit keeps the run continuous; just over restarts it', (t) => {
  let r = feed(initialBreaker(0), 0, 10_000, 1_000);
  r = onPrice(r, 20_000, cfg); // 10 s gap: not more than staleAfterMs
  r = feed(r, 21_000, 30_000, 1_000);
  t.is(r.state, 'closed');

  let s = feed(initialBreaker(0), 0, 10_000, 1_000);
  s = onPrice(s, 20_001, cfg); // 10.001 s gap: stale in between
  s = feed(s, 21_001, 49_001, 1_000);
  t.is(s.state, 'open');
  s = onPrice(s, 50_001, cfg);
  t.is(s.state, 'closed');
});

test('late or duplicate timestamps do not move the record backwards', (t) => {
  let r = feed(initialBreaker(0), 0, 30_000, 1_000);
  const before = r;
  r = onPrice(r, 12_000, cfg);
  t.is(r.lastPriceTs, before.lastPriceTs);
  t.is(r.state, 'closed');
});
