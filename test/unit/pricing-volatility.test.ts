import test from 'ava';
import {
  annualToPerSecond,
  createVolatilityEstimator,
  perSecondToAnnual,
  type VolatilityOptions,
} from '../../services/shared/pricing/volatility.js';

const SIGMA = annualToPerSecond(0.5);
const OPTS: VolatilityOptions = {
  halfLifeSeconds: 600,
  floor: annualToPerSecond(0.1),
  cap: annualToPerSecond(3),
  initial: annualToPerSecond(0.6),
};
const T0 = 1_700_000_000_000;

// Seeded randomness: mulberry32 uniforms and Box–Muller normals.
function rng(seed: number) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** A driftless GBM in integer cents, ticking at random intervals (exponential, mean `meanGapMs`). */
function gbmTicks(seed: number, sigma: number, seconds: number, meanGapMs: number): [number, number][] {
  const r = rng(seed);
  const out: [number, number][] = [];
  let ts = T0;
  let logPrice = Math.log(10_000_000); // $100,000.00
  while (ts < T0 + seconds * 1000) {
    const gap = Math.max(1, Math.round(-meanGapMs * Math.log(1 - r.uniform())));
    logPrice += sigma * Math.sqrt(gap / 1000) * r.normal() - (sigma * sigma * gap) / 2000;
    ts += gap;
    out.push([ts, Math.round(Math.exp(logPrice))]);
  }
  return out;
}

test('annual ↔ per-second conversion divides by DOMAIN.md\'s 5615.7 = √(365·86400)', (t) => {
  t.true(Math.abs(0.5 / annualToPerSecond(0.5) - 5615.7) < 0.01);
  t.true(Math.abs(annualToPerSecond(0.5) - 8.9e-5) < 0.01e-5); // DOMAIN.md: ≈ 8.9e-5/√s
  t.true(Math.abs(perSecondToAnnual(annualToPerSecond(0.73)) - 0.73) < 1e-15);
});

test('recovers a known σ from a seeded GBM path within 10 %', (t) => {
  for (const [seed, sigma, meanGapMs] of [[1, SIGMA, 250], [2, annualToPerSecond(1.2), 700], [3, annualToPerSecond(0.3), 100]] as const) {
    const est = createVolatilityEstimator(OPTS);
    for (const [ts, price] of gbmTicks(seed, sigma, 3 * 3600, meanGapMs)) est.update(ts, price);
    const ratio = est.sigma() / sigma;
    t.log(`σ ${perSecondToAnnual(sigma).toFixed(2)}/yr, ticks every ~${meanGapMs} ms: estimate/true = ${ratio.toFixed(3)}`);
    t.true(Math.abs(ratio - 1) < 0.1);
  }
});

test('a gap of k seconds counts as k one-second returns of r²/k each', (t) => {
  // Ticks only every 10 s: scoring each 10-s return as one 1-s return would read σ·√10.
  const est = createVolatilityEstimator({ ...OPTS, halfLifeSeconds: 3600 });
  const ticks = gbmTicks(4, SIGMA, 6 * 3600, 200).filter(([ts]) => (ts - T0) % 10_000 < 200);
  for (const [ts, price] of ticks) est.update(ts, price);
  t.true(Math.abs(est.sigma() / SIGMA - 1) < 0.1, `ratio ${est.sigma() / SIGMA}`);
  t.true(est.samples() < 2200, 'one sample per return, not per second');
});

test('uses the initial σ until warmed up, then the estimate', (t) => {
  const est = createVolatilityEstimator({ ...OPTS, warmupSamples: 30 });
  t.is(est.sigma(), OPTS.initial);
  t.is(est.samples(), 0);
  const ticks = gbmTicks(5, annualToPerSecond(2), 600, 300);
  let i = 0;
  while (est.samples() < 29) {
    const [ts, price] = ticks[i++]!;
    est.update(ts, price);
  }
  t.is(est.sigma(), OPTS.initial);
  while (est.samples() < 30) {
    const [ts, price] = ticks[i++]!;
    est.update(ts, price);
  }
  t.not(est.sigma(), OPTS.initial);
  t.true(est.sigma() > annualToPerSecond(1.2), 'follows the data, not the seed value');
});

test('samples the last price of each whole second, once the second is over', (t) => {
  const est = createVolatilityEstimator({ ...OPTS, warmupSamples: 0, floor: 1e-12 });
  est.update(T0 + 100, 10_000_000);
  est.update(T0 + 1_000, 10_000_000);
  t.is(est.samples(), 0); // second 0 is closed, but a return needs two sampled seconds
  // An intra-second spike that reverts before the second ends leaves no trace.
  est.update(T0 + 1_200, 12_000_000);
  est.update(T0 + 1_900, 10_000_000);
  t.is(est.samples(), 0, 'second 1 is still open');
  est.update(T0 + 2_000, 10_000_000);
  t.is(est.samples(), 1);
  t.is(est.sigma(), 1e-12);
  // The move made in second 2 counts when second 3 begins.
  est.update(T0 + 2_500, 10_010_000);
  t.is(est.samples(), 1);
  est.update(T0 + 3_000, 10_010_000);
  t.is(est.samples(), 2);
  t.true(est.sigma() > 1e-6);
});

test('ignores out-of-order ticks', (t) => {
  const ticks = gbmTicks(6, SIGMA, 1800, 300);
  const clean = createVolatilityEstimator(OPTS);
  const noisy = createVolatilityEstimator(OPTS);
  ticks.forEach(([ts, price], i) => {
    clean.update(ts, price);
    noisy.update(ts, price);
    if (i % 7 === 3) noisy.update(ts - 1500, price * 2); // late and wrong: must be dropped
  });
  t.is(noisy.sigma(), clean.sigma());
  t.is(noisy.samples(), clean.samples());
});

test('clamps to the floor and the cap', (t) => {
  const flat = createVolatilityEstimator({ ...OPTS, warmupSamples: 10 });
  for (let s = 0; s < 100; s++) flat.update(T0 + s * 1000, 10_000_000);
  t.is(flat.sigma(), OPTS.floor);

  const wild = createVolatilityEstimator({ ...OPTS, warmupSamples: 10 });
  for (let s = 0; s < 100; s++) wild.update(T0 + s * 1000, s % 2 === 0 ? 10_000_000 : 11_000_000);
  t.is(wild.sigma(), OPTS.cap);

  const early = createVolatilityEstimator({ ...OPTS, initial: 1 });
  t.is(early.sigma(), OPTS.cap, 'even the initial value is clamped');
});

test('rejects bad settings and bad ticks', (t) => {
  for (const bad of [{ halfLifeSeconds: 0 }, { floor: -1 }, { cap: NaN }, { floor: 2e-4, cap: 1e-4 }, { initial: 0 }, { warmupSamples: 1.5 }]) {
    t.throws(() => createVolatilityEstimator({ ...OPTS, ...bad }), { instanceOf: RangeError }, JSON.stringify(bad));
  }
  const est = createVolatilityEstimator(OPTS);
  t.throws(() => est.update(T0, 0), { instanceOf: RangeError });
  t.throws(() => est.update(T0, NaN), { instanceOf: RangeError });
  t.throws(() => est.update(NaN, 100), { instanceOf: RangeError });
});
