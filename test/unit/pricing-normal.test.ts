import test from 'ava';
import { bivariateNormalCdf, erfc, normCdf } from '../../services/shared/pricing/normal.js';

// Reference values computed with mpmath at 30-40 significant digits.

const relErr = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

test('erfc matches high-precision values to 1e-14 relative, tails included', (t) => {
  const cases: [number, number][] = [
    [0.25, 0.72367360983176307],
    [0.5, 0.47950012218695346],
    [1, 0.15729920705028513],
    [2, 0.0046777349810472658],
    [3, 2.2090496998585441e-5],
    [5, 1.5374597944280349e-12],
    [10, 2.0884875837625448e-45],
    [26, 5.6631924088561428e-296],
    [-1, 1.8427007929497149],
    [-3, 1.9999779095030014],
  ];
  for (const [x, want] of cases) t.true(relErr(erfc(x), want) < 1e-14, `erfc(${x}) = ${erfc(x)}, want ${want}`);
  t.is(erfc(0), 1);
  t.is(erfc(30), 0);
  t.is(erfc(-30), 2);
});

test('Φ matches known values to 1e-12 relative', (t) => {
  const cases: [number, number][] = [
    [1.96, 0.9750021048517795],
    [-5, 2.866515718791939e-7],
    [-3, 0.0013498980316300945],
    [-1, 0.15865525393145705],
    [-0.5, 0.3085375387259869],
    [0.7, 0.75803634777692697],
    [1.5, 0.93319279873114193],
    [3, 0.99865010196836991],
    [6, 0.99999999901341235],
  ];
  for (const [x, want] of cases) t.true(relErr(normCdf(x), want) < 1e-12, `Φ(${x}) = ${normCdf(x)}, want ${want}`);
  t.is(normCdf(0), 0.5);
});

test('Φ stays accurate far into the left tail and saturates cleanly on the right', (t) => {
  // A naive 1 − Φ(|x|) would give 0 for all of these.
  t.true(relErr(normCdf(-10), 7.6198530241605261e-24) < 1e-12);
  t.true(relErr(normCdf(-20), 2.7536241186062337e-89) < 1e-12);
  t.true(relErr(normCdf(-37), 5.7255712225245768e-300) < 1e-12);
  const far = normCdf(-38); // true value 2.9e-316, subnormal: 0 is acceptable, negative or NaN is not
  t.true(far >= 0 && far < 1e-300);
  t.is(normCdf(-Infinity), 0);
  // Φ(8) = 1 − 6.2e-16 is representable just below 1; beyond ~8.3 it rounds to exactly 1.
  t.true(1 - normCdf(8) < 1e-15);
  t.is(normCdf(9), 1);
  t.is(normCdf(40), 1);
  t.is(normCdf(Infinity), 1);
  t.true(Number.isNaN(normCdf(NaN)));
});

test('Φ is symmetric and monotone', (t) => {
  let prev = 0;
  for (let x = -12; x <= 12; x += 0.01) {
    const p = normCdf(x);
    t.true(Math.abs(p + normCdf(-x) - 1) < 2e-16 * 4, `symmetry at ${x}`);
    t.true(p >= prev, `monotone at ${x}`);
    prev = p;
  }
});

test('Φ₂ matches high-precision values across all three Genz branches', (t) => {
  const cases: [number, number, number, number][] = [
    [1, -1, 0.5, 0.15487295185860278754],
    [-1.5, 0.5, -0.7, 0.008668083738563498221],
    [2, 2, 0.9, 0.96786099223066087275],
    [-2, -3, 0.99, 0.0013498980316298381566],
    [0.2, 0.1, -0.93, 0.13713977639940440813],
    [3, -0.5, 0.3, 0.308456010371311123],
    [-1, -1, 0.999999, 0.15851873656915788595],
    [1, 2, -0.999999, 0.81859461412036374138],
    [-8, -7.5, 0.93, 3.435231620336325e-16],
  ];
  for (const [x, y, r, want] of cases) {
    const got = bivariateNormalCdf(x, y, r);
    t.true(Math.abs(got - want) < 1e-14, `Φ₂(${x}, ${y}; ${r}) = ${got}, want ${want}`);
  }
});

test('Φ₂(0, 0; ρ) = 1/4 + asin(ρ)/(2π) for ρ from −1 to 1', (t) => {
  const rhos = [-1, -0.999999, -0.99, -0.93, -0.925, -0.8, -0.75, -0.5, -0.3, -0.1, 0, 0.1, 0.3, 0.5, 0.75, 0.8];
  for (const r of [...rhos, 0.925, 0.93, 0.99, 0.999999, 1]) {
    const want = 0.25 + Math.asin(r) / (2 * Math.PI);
    t.true(Math.abs(bivariateNormalCdf(0, 0, r) - want) < 1e-15, `ρ = ${r}`);
  }
});

test('Φ₂ with ρ = 0 is the product of the marginals', (t) => {
  for (const [x, y] of [[0.3, -1.2], [-4, 2], [1.96, 1.96], [-6, -6]] as const) {
    t.true(relErr(bivariateNormalCdf(x, y, 0), normCdf(x) * normCdf(y)) < 1e-15);
  }
});

test('Φ₂ at ρ = ±1 is the degenerate limit, and |ρ| → 1 approaches it', (t) => {
  for (const [x, y] of [[0.5, -1], [-2, 1.5], [1, 1], [-0.3, 0.3], [2, -2.5]] as const) {
    const upper = normCdf(Math.min(x, y)); // Y = X
    const lower = Math.max(0, normCdf(x) - normCdf(-y)); // Y = −X
    t.true(Math.abs(bivariateNormalCdf(x, y, 1) - upper) < 1e-15);
    t.true(Math.abs(bivariateNormalCdf(x, y, -1) - lower) < 1e-15);
    // The gap to the limit shrinks like √(1 − ρ²) when x = ±y, exponentially otherwise.
    t.true(Math.abs(bivariateNormalCdf(x, y, 1 - 1e-12) - upper) < 1e-6, `ρ → 1 at (${x}, ${y})`);
    t.true(Math.abs(bivariateNormalCdf(x, y, -1 + 1e-12) - lower) < 1e-6, `ρ → −1 at (${x}, ${y})`);
  }
});

test('Φ₂ symmetries: swap, reflection, marginals, monotone in ρ', (t) => {
  const xs = [-3, -1.2, -0.4, 0, 0.6, 1.7, 2.5];
  const rs = [-0.97, -0.6, -0.2, 0.25, 0.7, 0.8, 0.95, 0.999];
  for (const x of xs) {
    for (const y of xs) {
      let prev = -1;
      for (const r of rs) {
        const p = bivariateNormalCdf(x, y, r);
        t.true(Math.abs(p - bivariateNormalCdf(y, x, r)) < 1e-15);
        // P(X ≤ x, Y ≤ y) + P(X ≤ x, Y > y) = Φ(x), and the second term is Φ₂(x, −y; −ρ).
        t.true(Math.abs(p + bivariateNormalCdf(x, -y, -r) - normCdf(x)) < 1e-14);
        t.true(p >= prev - 1e-15, 'increasing in ρ');
        prev = p;
      }
    }
  }
});

test('Φ₂ handles infinite limits and rejects bad arguments', (t) => {
  t.is(bivariateNormalCdf(Infinity, 0.5, 0.3), normCdf(0.5));
  t.is(bivariateNormalCdf(-0.2, Infinity, -0.9), normCdf(-0.2));
  t.is(bivariateNormalCdf(-Infinity, 3, 0.5), 0);
  t.is(bivariateNormalCdf(Infinity, Infinity, 0.5), 1);
  t.throws(() => bivariateNormalCdf(NaN, 0, 0), { instanceOf: RangeError });
  t.throws(() => bivariateNormalCdf(0, 0, 1.0000001), { instanceOf: RangeError });
  t.throws(() => bivariateNormalCdf(0, 0, NaN), { instanceOf: RangeError });
});
