/**
 * Volatility of the settlement series, per √second, for the touch-probability model (DOMAIN.md §2):
 * an exponentially weighted mean of squared one-second log returns, floored and capped.
 *
 * Estimating from the very series bets settle on (not from an exchange's own candles) keeps the
 * model and the resolution consistent: if the median feed is smoother or noisier than any one
 * exchange, the multipliers see it.
 */

/**
 * √(seconds per year) = √(365·86400) ≈ 5615.69, DOMAIN.md's divisor σ_ann/5615.7. BTC trades every
 * day, so the year is 365 days of 86400 s; √(365.25·86400) would be 5617.6 (0.03 % apart, immaterial,
 * but the published σ should match the documented conversion exactly).
 */
export const SQRT_SECONDS_PER_YEAR = Math.sqrt(365 * 86400);

/** Annualised volatility (0.5 = 50 %/yr) to volatility per √second: σ/√(365·86400) = σ/5615.7. */
export function annualToPerSecond(sigmaAnnual: number): number {
  return sigmaAnnual / SQRT_SECONDS_PER_YEAR;
}

/** Volatility per √second to annualised volatility, for display and logs. */
export function perSecondToAnnual(sigmaPerSecond: number): number {
  return sigmaPerSecond * SQRT_SECONDS_PER_YEAR;
}

/** Settings of `createVolatilityEstimator`; σ values are per √second. */
export interface VolatilityOptions {
  /** Age, in seconds of data, at which a squared return's weight has halved. > 0. */
  halfLifeSeconds: number;
  /** Smallest σ ever reported: a quiet minute must not price cells as near-impossible. > 0. */
  floor: number;
  /** Largest σ ever reported: a bad tick must not price every cell as near-certain. ≥ floor. */
  cap: number;
  /** σ reported until `warmupSamples` returns have been seen (e.g. a long-run average). > 0. */
  initial: number;
  /** Returns needed before the estimate replaces `initial`; default 60 (σ to roughly ±10 %). */
  warmupSamples?: number;
}

/** A running σ estimate; each instance owns its state (no module-level state). */
export interface VolatilityEstimator {
  /**
   * Feed one settlement price (ms since epoch, integer cents > 0). Ticks older than the newest
   * one seen are ignored (a late, out-of-order tick must not rewrite a closed second).
   */
  update(tsMs: number, priceCents: number): void;
  /** Current σ per √second, clamped to [floor, cap]; `initial` (clamped) during warm-up. */
  sigma(): number;
  /** How many returns (pairs of consecutive sampled seconds) have been folded in. */
  samples(): number;
}

/**
 * Create an EWMA volatility estimator over one-second log returns.
 *
 * Sampling: the price of second s is the last price seen with floor(ts/1000) = s; a second is
 * closed (and its return to the previous sampled second used) when a tick from a later second
 * arrives, so `sigma()` never reflects a half-finished second.
 *
 * Gaps: when k > 1 seconds separate two sampled seconds (no ticks in between), the return r over
 * those k seconds is treated as k one-second returns each with squared value r²/k. Under the model
 * Var(r) = k·σ², so r²/k is an unbiased estimate of σ² and the EWMA decays by k seconds — memory is
 * measured in time, not in ticks. The cost: after a long gap the estimate rests heavily on that one
 * return and is noisy until data resumes, which the floor and cap bound.
 *
 * The mean is bias-corrected (divided by 1 − λⁿ, n the seconds of data seen) so it is a proper
 * weighted average from the first sample on, rather than dragged towards an arbitrary start value.
 */
export function createVolatilityEstimator(opts: VolatilityOptions): VolatilityEstimator {
  const { halfLifeSeconds, floor, cap, initial } = opts;
  const warmup = opts.warmupSamples ?? 60;
  for (const [k, v] of Object.entries({ halfLifeSeconds, floor, cap, initial })) {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`volatility: ${k} must be a positive number, got ${v}`);
  }
  if (cap < floor) throw new RangeError(`volatility: cap (${cap}) must be >= floor (${floor})`);
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new RangeError(`volatility: bad warmupSamples ${warmup}`);

  // Per-second decay factor λ with λ^halfLife = 1/2.
  const lambda = Math.pow(0.5, 1 / halfLifeSeconds);
  const clamp = (s: number) => Math.min(cap, Math.max(floor, s));

  let lastTs = -Infinity; // newest accepted tick time, for rejecting out-of-order ticks
  let openSecond: number | undefined; // second currently collecting ticks
  let openPrice = 0; // last price in openSecond
  let closedSecond: number | undefined; // most recent closed second
  let closedPrice = 0;
  let weighted = 0; // Σ (1 − λ) λ^age r²  over one-second pieces
  let weight = 0; // Σ (1 − λ) λ^age       (= 1 − λⁿ), for bias correction
  let count = 0;

  const fold = (second: number, price: number) => {
    if (closedSecond !== undefined) {
      const k = second - closedSecond;
      const r = Math.log(price / closedPrice);
      const decay = Math.pow(lambda, k);
      // k one-second pieces of r²/k each: Σ_{j<k} (1 − λ)λ^j = 1 − λ^k.
      weighted = decay * weighted + (1 - decay) * ((r * r) / k);
      weight = decay * weight + (1 - decay);
      count += 1;
    }
    closedSecond = second;
    closedPrice = price;
  };

  return {
    update(tsMs, priceCents) {
      if (!Number.isFinite(tsMs)) throw new RangeError(`volatility: bad timestamp ${tsMs}`);
      if (!(Number.isFinite(priceCents) && priceCents > 0)) throw new RangeError(`volatility: bad price ${priceCents}`);
      if (tsMs < lastTs) return;
      lastTs = tsMs;
      const second = Math.floor(tsMs / 1000);
      if (openSecond !== undefined && second > openSecond) fold(openSecond, openPrice);
      openSecond = second;
      openPrice = priceCents;
    },
    sigma() {
      if (count < warmup || weight === 0) return clamp(initial);
      return clamp(Math.sqrt(weighted / weight));
    },
    samples() {
      return count;
    },
  };
}
