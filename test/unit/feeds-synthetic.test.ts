import test from 'ava';
import type { FeedEvent, Tick } from '../../services/shared/market/tick.js';
import { createGbm, createGaussian, createPrng, createSyntheticSource } from '../../services/ingest/sources/synthetic.js';
import { createManualClock } from '../../services/ingest/sources/timers.js';

function run(seed: number, steps: number, intervalMs = 250): { ticks: Tick[]; events: FeedEvent[] } {
  const clock = createManualClock(1_000_000);
  const src = createSyntheticSource({ seed, tickIntervalMs: intervalMs, startPriceCents: 9_700_000, sigmaPerSqrtS: 0.0002, now: clock.now, timers: clock });
  const events: FeedEvent[] = [];
  src.start((e) => events.push(e));
  clock.advance(intervalMs * (steps - 1));
  void src.stop();
  return { ticks: events.flatMap((e) => (e.type === 'tick' ? [e.tick] : [])), events };
}

test('the same seed walks the same path; another seed walks another', (t) => {
  const a = run(42, 200);
  const b = run(42, 200);
  const c = run(43, 200);
  t.is(a.ticks.length, 200);
  t.deepEqual(a.ticks, b.ticks);
  t.notDeepEqual(
    a.ticks.map((k) => k.priceCents),
    c.ticks.map((k) => k.priceCents),
  );
});

test('it starts at the start price, announces itself, and ticks once per interval on the injected clock', (t) => {
  const { ticks, events } = run(7, 5, 100);
  t.like(events[0], { type: 'status', source: 'synthetic', connected: true });
  t.is(ticks[0]?.priceCents, 9_700_000);
  t.deepEqual(
    ticks.map((k) => k.recvTs - 1_000_000),
    [0, 100, 200, 300, 400],
  );
  t.true(ticks.every((k) => k.ts === k.recvTs && k.source === 'synthetic' && Number.isSafeInteger(k.priceCents)));
});

test('stop ends the ticks for good', (t) => {
  const clock = createManualClock();
  const src = createSyntheticSource({ now: clock.now, timers: clock, tickIntervalMs: 10 });
  let n = 0;
  src.start((e) => void (e.type === 'tick' && n++));
  clock.advance(50);
  const before = n;
  void src.stop();
  clock.advance(1_000);
  t.is(before, 6);
  t.is(n, before);
  t.is(clock.pending(), 0);
});

test('log returns have the configured sigma per square-root second', (t) => {
  for (const [sigma, dtMs] of [
    [0.0001, 1_000],
    [0.001, 250],
  ] as const) {
    const step = createGbm({ startPriceCents: 9_700_000, sigmaPerSqrtS: sigma, dtMs, random: createPrng(9) });
    const n = 20_000;
    let prev = 9_700_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const p = step();
      const r = Math.log(p / prev);
      sum += r;
      sumSq += r * r;
      prev = p;
    }
    const sd = Math.sqrt(sumSq / n - (sum / n) ** 2);
    const perSqrtS = sd / Math.sqrt(dtMs / 1000);
    t.true(Math.abs(perSqrtS / sigma - 1) < 0.05, `sigma ${sigma} at ${dtMs} ms measured ${perSqrtS}`);
    t.true(Math.abs(sum / n) < 4 * (sd / Math.sqrt(n)), 'no drift beyond noise');
  }
});

test('the PRNG is uniform enough and the gaussian has unit variance', (t) => {
  const u = createPrng(1);
  const g = createGaussian(createPrng(2));
  let su = 0;
  let sg = 0;
  let sg2 = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const x = u();
    t.true(x >= 0 && x < 1);
    su += x;
    const z = g();
    sg += z;
    sg2 += z * z;
  }
  t.true(Math.abs(su / n - 0.5) < 0.01);
  t.true(Math.abs(sg / n) < 0.02);
  t.true(Math.abs(sg2 / n - 1) < 0.03);
});
