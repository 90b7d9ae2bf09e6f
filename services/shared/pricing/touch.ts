/**
 * Probability that the price touches a band during a future window: the number every multiplier is
 * built from. See DOMAIN.md §2 for the model and the formulas; this file is their one implementation.
 *
 * Model: x_t = ln(S_t/S_0) is driftless Brownian motion with volatility σ per √second. "Touch" means
 * some price in the window lies in [low, high]; because paths are continuous that is the same as
 * "the window's high ≥ low and the window's low ≤ high", which is how a resolver tracking the
 * window's high/low settles it. Pure functions only.
 */
import { bivariateNormalCdf, normCdf } from './normal.js';

/**
 * Broadie–Glasserman–Kou (1997) constant β = −ζ(1/2)/√(2π) ≈ 0.5826: a barrier monitored every Δt
 * behaves like a continuously monitored barrier moved exp(β·σ·√Δt) further from the path.
 */
export const BGK_BETA = 0.5826;

/** Inputs of `touchProbability`. Prices in any one unit (cents in this product), times in seconds. */
export interface TouchInput {
  /** Current price S_0, > 0. */
  spot: number;
  /** Band bottom L, > 0. */
  low: number;
  /** Band top H, > L. */
  high: number;
  /** Window start, seconds from now, ≥ 0. */
  t1: number;
  /** Window end, seconds from now, > t1. */
  t2: number;
  /** Volatility of the log price per √second (see `annualToPerSecond`), > 0. */
  sigma: number;
  /**
   * Seconds between the prices the resolver looks at; 0 (default) means every price, i.e. continuous
   * monitoring. When > 0 the Broadie–Glasserman–Kou correction is applied (see `touchProbability`).
   */
  monitoringDt?: number;
}

function assertFinite(name: string, v: number): void {
  if (!Number.isFinite(v)) throw new RangeError(`touchProbability: ${name} must be finite, got ${v}`);
}

/**
 * P(the price touches [low, high] at some time in [t1, t2] seconds from now), in [0, 1].
 *
 * Continuous monitoring (DOMAIN.md §2). With a = ln(L/S0), b = ln(H/S0), X1 = x(t1), X2 = x(t2),
 * s_i = σ√t_i and ρ = √(t1/t2), the band is touched iff X1 is in it, or X1 is below it and the path
 * then reaches a, or X1 is above it and the path then reaches b. Given X1 = y < a the reflection
 * principle gives P(reach a by t2) = 2·P(X2 > a | y), so
 *
 *   P = P(a ≤ X1 ≤ b) + 2·P(X1 < a, X2 > a) + 2·P(X1 > b, X2 < b)
 *     = [Φ(b/s1) − Φ(a/s1)] + 2·[Φ(−a/s2) − Φ₂(−a/s1, −a/s2; ρ)] + 2·[Φ(−b/s1) − Φ₂(−b/s1, −b/s2; ρ)]
 *
 * which is algebraically DOMAIN.md's U(a) − D(b) (band above), U(−b) − D(−a) (band below) and
 * 1 − D(b) − D(−a) (band holding the price) in one expression; at t1 = 0, X1 = 0 and it reduces to
 * 2Φ(−a/σ√t2) (band above), 1 (holding) or 2Φ(b/σ√t2) (below). Every term is a probability, so
 * the sum stays in [0, 1] up to rounding, and bands below the price are mirrored above it first so
 * that small probabilities are differences of small numbers (absolute error ~1e-15).
 *
 * Discrete monitoring (`monitoringDt` = Δt > 0). A resolver that only looks at a price every Δt
 * settles on the sampled high/low of the window, which miss the path's true extremes; after the
 * window opens a sampled path crossing a level behaves like a continuous path crossing a level
 * moved δ = β·σ·√Δt further away (Broadie–Glasserman–Kou). So the reaching terms use a + δ and
 * b − δ for X2: 2·P(X1 < a, X2 > a + δ) and 2·P(X1 > b, X2 < b − δ). The first term is not shifted:
 * the window's first price (at t1) is itself a sample, and shifting the whole band instead — the
 * naive reading of DOMAIN.md's "shift barriers away from the price", which for a band holding the
 * price would also shrink it — undercounts touches by 0.01–0.02 at Δt = 1 s against a Monte Carlo
 * of the sampled rule (this form is within ~0.004, see test/unit/pricing-touch.test.ts). A band
 * holding the spot is not exempt when t1 > 0: the path can leave it before the window opens and a
 * return can fall between samples; at t1 = 0 it is touched for certain (the first sample is the
 * spot). BGK is an approximation for Δt small next to t2 − t1. Sampled "touch" here means the
 * sampled range meets the band (high ≥ L and low ≤ H), not "some sample lies in the band".
 *
 * Throws a RangeError on non-finite input, spot/low ≤ 0, low ≥ high, t1 < 0, t2 ≤ t1, sigma ≤ 0,
 * monitoringDt < 0.
 */
export function touchProbability(input: TouchInput): number {
  const { spot, low, high, t1, t2, sigma } = input;
  const dt = input.monitoringDt ?? 0;
  for (const [k, v] of Object.entries({ spot, low, high, t1, t2, sigma, monitoringDt: dt })) assertFinite(k, v);
  if (spot <= 0 || low <= 0) throw new RangeError('touchProbability: prices must be > 0');
  if (low >= high) throw new RangeError(`touchProbability: low (${low}) must be < high (${high})`);
  if (t1 < 0) throw new RangeError(`touchProbability: t1 (${t1}) must be >= 0`);
  if (t2 <= t1) throw new RangeError(`touchProbability: t2 (${t2}) must be > t1 (${t1})`);
  if (sigma <= 0) throw new RangeError(`touchProbability: sigma (${sigma}) must be > 0`);
  if (dt < 0) throw new RangeError(`touchProbability: monitoringDt (${dt}) must be >= 0`);

  let a = Math.log(low / spot);
  let b = Math.log(high / spot);
  if (a + b < 0) [a, b] = [-b, -a]; // driftless, so a band below is the mirror of one above; now b > 0
  const delta = BGK_BETA * sigma * Math.sqrt(dt);
  const s2 = sigma * Math.sqrt(t2);

  let p: number;
  if (t1 === 0) {
    // X1 = 0 is known; b > 0, so the band either holds the spot or lies above it.
    p = a <= 0 ? 1 : 2 * normCdf(-(a + delta) / s2);
  } else {
    const s1 = sigma * Math.sqrt(t1);
    const rho = Math.sqrt(t1 / t2);
    // Each form below avoids subtracting two numbers close to 1 where the result can be tiny.
    const inBand = a >= 0 ? normCdf(-a / s1) - normCdf(-b / s1) : 1 - normCdf(a / s1) - normCdf(-b / s1);
    const aUp = a + delta;
    const bDown = b - delta;
    const fromBelow = normCdf(-aUp / s2) - bivariateNormalCdf(-a / s1, -aUp / s2, rho);
    const fromAbove = normCdf(-b / s1) - bivariateNormalCdf(-b / s1, -bDown / s2, rho);
    p = inBand + 2 * Math.max(0, fromBelow) + 2 * Math.max(0, fromAbove);
  }
  return p < 0 ? 0 : p > 1 ? 1 : p;
}
