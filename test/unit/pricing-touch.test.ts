import test from 'ava';
import { bivariateNormalCdf, normCdf } from '../../services/shared/pricing/normal.js';
import { touchProbability, type TouchInput } from '../../services/shared/pricing/touch.js';
import { annualToPerSecond } from '../../services/shared/pricing/volatility.js';

const S0 = 100_000;
const SIGMA = annualToPerSecond(0.5); // DOMAIN.md's reference: BTC at 50 %/yr

const p = (low: number, high: number, t1: number, t2: number, extra: Partial<TouchInput> = {}) =>
  touchProbability({ spot: S0, low, high, t1, t2, sigma: SIGMA, ...extra });

/** DOMAIN.md §2 transcribed literally, case by case, as an independent check of the implementation. */
function domainFormula(spot: number, low: number, high: number, t1: number, t2: number, sigma: number): number {
  const a = Math.log(low / spot);
  const b = Math.log(high / spot);
  const rho = Math.sqrt(t1 / t2);
  const s1 = sigma * Math.sqrt(t1);
  const s2 = sigma * Math.sqrt(t2);
  const U = (c: number) => normCdf(-c / s1) + 2 * (normCdf(-c / s2) - bivariateNormalCdf(-c / s1, -c / s2, rho));
  const D = (c: number) => 2 * bivariateNormalCdf(-c / s1, -c / s2, rho) - normCdf(-c / s1);
  if (t1 === 0 && a > 0) return 2 * normCdf(-a / s2);
  if (a > 0) return U(a) - D(b);
  if (b < 0) return U(-b) - D(-a);
  return 1 - D(b) - D(-a);
}

// Seeded randomness: mulberry32 uniforms, Box–Muller normals. Deterministic, so the Monte Carlo
// assertions below are reproducible; tolerances are still ≥ 3 standard errors.
function normals(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = 1 - uniform(); // (0, 1]: log(0) is -∞
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * uniform();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

interface Cell {
  low: number;
  high: number;
  t1: number;
  t2: number;
  sigma?: number;
}

/**
 * Continuous-monitoring Monte Carlo: exact Gaussian skeleton every `step` seconds plus the exact
 * Brownian-bridge probability of touching the band between skeleton points
 * (P(bridge from u to v crosses c) = exp(−2(c − u)(c − v)/(σ²·step)) for u, v on the same side),
 * used as a conditional expectation so no crossing is missed and no extra randomness is spent.
 */
function monteCarloContinuous(cell: Cell, paths: number, seed: number, step = 0.25): number {
  const sigma = cell.sigma ?? SIGMA;
  const a = Math.log(cell.low / S0);
  const b = Math.log(cell.high / S0);
  const n = Math.round((cell.t2 - cell.t1) / step);
  const h = (cell.t2 - cell.t1) / n;
  const sd = sigma * Math.sqrt(h);
  const twoOverVar = 2 / (sigma * sigma * h);
  const z = normals(seed);
  let sum = 0;
  for (let i = 0; i < paths; i++) {
    let u = sigma * Math.sqrt(cell.t1) * z();
    if (u >= a && u <= b) {
      sum += 1;
      continue;
    }
    let miss = 1;
    let hit = false;
    for (let k = 0; k < n && !hit; k++) {
      const v = u + sd * z();
      if ((v >= a && v <= b) || (u < a && v > b) || (u > b && v < a)) hit = true;
      else if (v < a) miss *= 1 - Math.exp(-twoOverVar * (a - u) * (a - v));
      else miss *= 1 - Math.exp(-twoOverVar * (u - b) * (v - b));
      u = v;
    }
    sum += hit ? 1 : 1 - miss;
  }
  return sum / paths;
}

/**
 * Discrete-monitoring Monte Carlo: the resolver sees the price only at t1, t1 + Δt, …, t2 and settles
 * on the sampled range (sampled high ≥ low and sampled low ≤ high).
 */
function monteCarloSampled(cell: Cell, dt: number, paths: number, seed: number): number {
  const a = Math.log(cell.low / S0);
  const b = Math.log(cell.high / S0);
  const n = Math.round((cell.t2 - cell.t1) / dt);
  const sd = SIGMA * Math.sqrt(dt);
  const z = normals(seed);
  let hits = 0;
  for (let i = 0; i < paths; i++) {
    let x = SIGMA * Math.sqrt(cell.t1) * z();
    let hi = x;
    let lo = x;
    for (let k = 0; k < n; k++) {
      x += sd * z();
      if (x > hi) hi = x;
      if (x < lo) lo = x;
    }
    if (hi >= a && lo <= b) hits += 1;
  }
  return hits / paths;
}

test('DOMAIN.md reference values: 0.535 and 0.287', (t) => {
  const near = p(100_010, 100_020, 5, 10);
  const far = p(100_030, 100_040, 10, 15);
  t.true(Math.abs(near - 0.535) <= 0.005, `got ${near}`);
  t.true(Math.abs(far - 0.287) <= 0.005, `got ${far}`);
});

test('agrees with DOMAIN.md case formulas for bands above, below and holding the spot', (t) => {
  const cells: Cell[] = [
    { low: 100_010, high: 100_020, t1: 5, t2: 10 },
    { low: 100_300, high: 100_400, t1: 2, t2: 4 },
    { low: 99_950, high: 99_980, t1: 5, t2: 15 },
    { low: 90_000, high: 99_000, t1: 60, t2: 600 },
    { low: 99_995, high: 100_005, t1: 5, t2: 10 },
    { low: 100_000, high: 100_050, t1: 0.001, t2: 30 },
    { low: 99_990, high: 100_000, t1: 29.9, t2: 30 },
    { low: 100_001, high: 100_002, t1: 0, t2: 1 },
  ];
  for (const c of cells) {
    const got = p(c.low, c.high, c.t1, c.t2);
    const want = domainFormula(S0, c.low, c.high, c.t1, c.t2, SIGMA);
    t.true(Math.abs(got - want) < 1e-13, `${JSON.stringify(c)}: ${got} vs ${want}`);
  }
});

test('a band below is the mirror image of a band above', (t) => {
  // ln(L'/S0) = −ln(H/S0) and ln(H'/S0) = −ln(L/S0): the driftless model cannot tell them apart.
  for (const [low, high, t1, t2] of [[100_010, 100_020, 5, 10], [100_030, 100_040, 10, 15], [100_200, 100_500, 0, 60]]) {
    const above = p(low!, high!, t1!, t2!);
    const below = p((S0 * S0) / high!, (S0 * S0) / low!, t1!, t2!);
    t.true(Math.abs(above - below) < 1e-12, `${above} vs ${below}`); // S0²/H is rounded
  }
});

test('a band holding the spot: certain when the window opens now, less so later', (t) => {
  t.is(p(99_990, 100_010, 0, 5), 1);
  t.is(p(100_000, 100_010, 0, 5), 1); // spot on the edge counts as inside
  const later = p(99_990, 100_010, 5, 10);
  t.true(later > 0.5 && later < 1);
  t.true(p(99_990, 100_010, 30, 35) < later, 'the longer the wait, the more likely the price has left');
});

test('t1 = 0 matches the reflection principle 2Φ(−a/σ√t2)', (t) => {
  for (const [low, high, t2] of [[100_010, 100_020, 5], [100_050, 100_060, 2], [100_001, 200_000, 60]]) {
    const want = 2 * normCdf(-Math.log(low! / S0) / (SIGMA * Math.sqrt(t2!)));
    t.true(Math.abs(p(low!, high!, 0, t2!) - want) < 1e-15);
  }
  const below = 2 * normCdf(Math.log(99_980 / S0) / (SIGMA * Math.sqrt(5)));
  t.true(Math.abs(p(99_970, 99_980, 0, 5) - below) < 1e-15);
});

test('continuous formula matches a seeded Brownian-bridge Monte Carlo within 0.005', (t) => {
  const cells: Cell[] = [
    { low: 100_010, high: 100_020, t1: 5, t2: 10 },
    { low: 100_030, high: 100_040, t1: 10, t2: 15 },
    { low: 99_950, high: 99_980, t1: 5, t2: 15 },
    { low: 99_995, high: 100_005, t1: 5, t2: 10 },
    { low: 100_005, high: 100_015, t1: 0, t2: 5 },
    { low: 100_080, high: 100_100, t1: 20, t2: 30 },
    { low: 99_900, high: 99_920, t1: 3, t2: 8, sigma: annualToPerSecond(1) },
  ];
  cells.forEach((c, i) => {
    const model = touchProbability({ spot: S0, ...c, sigma: c.sigma ?? SIGMA });
    const mc = monteCarloContinuous(c, 100_000, 1000 + i);
    t.log(`${c.low}-${c.high} [${c.t1}, ${c.t2}] s: model ${model.toFixed(4)}, MC ${mc.toFixed(4)}`);
    t.true(Math.abs(model - mc) <= 0.005, `${JSON.stringify(c)}: model ${model}, MC ${mc}`);
  });
});

test('the midpoint shortcut is wrong by 2× or more', (t) => {
  const midpoint = (low: number, high: number, t1: number, t2: number) =>
    2 * normCdf(-Math.abs(Math.log((low + high) / 2 / S0)) / (SIGMA * Math.sqrt((t1 + t2) / 2)));
  // Too low (multiplier 3× too generous): the band can be reached well before the midpoint time.
  const exact1 = p(100_050, 100_060, 5, 10);
  t.true(exact1 / midpoint(100_050, 100_060, 5, 10) > 2.5, `${exact1}`);
  t.true(Math.abs(exact1 - monteCarloContinuous({ low: 100_050, high: 100_060, t1: 5, t2: 10 }, 50_000, 7)) <= 0.005);
  // Too high: a near band in a late window — the price has likely wandered off by then.
  const exact2 = p(100_005, 100_015, 20, 25);
  t.true(midpoint(100_005, 100_015, 20, 25) / exact2 > 2, `${exact2}`);
});

test('with monitoringDt the BGK-corrected P is close to a Monte Carlo sampled every Δt', (t) => {
  const cells: [Cell, number][] = [
    [{ low: 100_030, high: 100_040, t1: 10, t2: 15 }, 1],
    [{ low: 100_010, high: 100_020, t1: 5, t2: 10 }, 1],
    [{ low: 99_990, high: 100_010, t1: 5, t2: 10 }, 1],
    [{ low: 99_950, high: 99_980, t1: 5, t2: 15 }, 0.25],
    [{ low: 100_005, high: 100_015, t1: 0, t2: 5 }, 0.5],
  ];
  cells.forEach(([c, dt], i) => {
    const continuous = touchProbability({ spot: S0, ...c, sigma: SIGMA });
    const corrected = touchProbability({ spot: S0, ...c, sigma: SIGMA, monitoringDt: dt });
    const mc = monteCarloSampled(c, dt, 200_000, 2000 + i);
    t.log(`${c.low}-${c.high} [${c.t1}, ${c.t2}] Δt ${dt}: continuous ${continuous.toFixed(4)}, BGK ${corrected.toFixed(4)}, MC ${mc.toFixed(4)}`);
    t.true(Math.abs(corrected - mc) <= 0.006, `${JSON.stringify(c)}: BGK ${corrected}, MC ${mc}`);
    t.true(continuous - mc > 0.02, 'the uncorrected price overstates a sampled touch');
  });
});

test('monitoringDt = 0 is continuous monitoring, and coarser sampling never raises P', (t) => {
  t.is(p(100_010, 100_020, 5, 10, { monitoringDt: 0 }), p(100_010, 100_020, 5, 10));
  let prev = 1;
  for (const dt of [0, 0.01, 0.1, 0.5, 1, 2]) {
    const v = p(100_010, 100_020, 5, 10, { monitoringDt: dt });
    t.true(v <= prev);
    prev = v;
  }
  t.is(p(99_990, 100_010, 0, 5, { monitoringDt: 1 }), 1, 'the first sample is the spot itself');
});

test('monotone in the band and the window, and always within [0, 1]', (t) => {
  const z = normals(99);
  for (let i = 0; i < 2000; i++) {
    const low = Math.round(S0 + 200 * z());
    const high = low + 1 + Math.round(Math.abs(50 * z()));
    const t1 = Math.abs(10 * z());
    const t2 = t1 + 0.001 + Math.abs(10 * z());
    const dt = i % 2 === 0 ? 0 : Math.abs(z());
    const base = p(low, high, t1, t2, { monitoringDt: dt });
    t.true(base >= 0 && base <= 1);
    t.true(p(low - 5, high, t1, t2, { monitoringDt: dt }) >= base - 1e-15, 'wider band');
    t.true(p(low, high, t1, t2 + 1, { monitoringDt: dt }) >= base - 1e-15, 'longer window');
  }
  // Far away: vanishingly small but never negative.
  const tiny = p(101_000, 101_010, 1, 2);
  t.true(tiny >= 0 && tiny < 1e-100);
});

test('rejects malformed input', (t) => {
  const ok: TouchInput = { spot: S0, low: 100_010, high: 100_020, t1: 5, t2: 10, sigma: SIGMA };
  const bad: Partial<TouchInput>[] = [
    { low: 100_020 },
    { low: 100_030 },
    { t2: 5 },
    { t2: 4 },
    { t1: -1 },
    { sigma: 0 },
    { sigma: -1 },
    { spot: 0 },
    { low: 0 },
    { spot: NaN },
    { t2: Infinity },
    { sigma: NaN },
    { monitoringDt: -1 },
    { monitoringDt: NaN },
  ];
  t.notThrows(() => touchProbability(ok));
  for (const b of bad) t.throws(() => touchProbability({ ...ok, ...b }), { instanceOf: RangeError }, JSON.stringify(b));
});
