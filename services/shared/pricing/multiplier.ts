/**
 * From a touch probability to the multiplier a player is offered. Multipliers are integers of
 * hundredths (1.95× = 195, "multiplierCents") so that payouts are exact integer arithmetic.
 */

/** The house's pricing rule for one grid (all cells share it). */
export interface PricingRule {
  /** House edge e per unit staked, 0 ≤ e < 1 (0.05 = 5 %). */
  edge: number;
  /** Smallest multiplier offered, in hundredths (e.g. 101 = 1.01×). */
  minCents: number;
  /** Largest multiplier offered, in hundredths (e.g. 100000 = 1000×). */
  maxCents: number;
}

/** Why a cell cannot be tapped (beyond being locked). */
export type DisabledReason =
  /** P · m_min > 1 − e: offering even the minimum multiplier would give the player the edge. */
  | 'player-edge'
  /** P ≥ 1 (e.g. the window opens now and the price is in the band): nothing to bet on. */
  | 'certain';

/** A priced cell: the multiplier to show, and whether taps are refused. */
export interface CellPrice {
  /** Multiplier in hundredths; for a disabled cell, the value it would have been shown at. */
  multiplierCents: number;
  /** True when taps must be refused. */
  disabled: boolean;
  /** Present exactly when `disabled`. */
  reason?: DisabledReason;
}

/**
 * Rounding slack for floor((1 − e)·100/P). The quotient is computed in floating point, so an exact
 * value such as 0.95·100/0.5 = 190 can come out as 189.99999999999997 and floor to 189. Relative
 * rounding error is a few 1e-16; 1e-9 of a hundredth absorbs it and can only ever round up values
 * that were within 1e-9 of the next integer — a player gain below 1e-11 per unit staked.
 */
const FLOOR_SLACK = 1e-9;

/**
 * Price one cell: m = floor_2dp((1 − e)/P), clamped to [minCents, maxCents] (DOMAIN.md §2).
 *
 * - Flooring (never rounding up) keeps at least the edge e for the house.
 * - When m would be below minCents, clamping up would hand the player a positive expectation
 *   (P · m_min > 1 − e), so the cell is shown at minCents but disabled with reason 'player-edge'.
 * - Above maxCents the multiplier is capped; that only increases the house's edge.
 * - P ≤ 0 (the model says the band is unreachable, or P underflowed) is priced at maxCents and left
 *   enabled: 1/P is infinite, the cap applies, and the house edge at P ≈ 0 is ≈ 100 %.
 * - P ≥ 1 is disabled with reason 'certain' at minCents.
 *
 * Throws a RangeError when P is not finite or the rule is malformed (edge outside [0, 1), non-integer or
 * non-positive bounds, minCents > maxCents).
 */
export function priceCell(p: number, rule: PricingRule): CellPrice {
  const { edge, minCents, maxCents } = rule;
  if (!Number.isFinite(p)) throw new RangeError(`priceCell: probability must be finite, got ${p}`);
  if (!(edge >= 0 && edge < 1)) throw new RangeError(`priceCell: edge (${edge}) must be in [0, 1)`);
  if (!Number.isSafeInteger(minCents) || !Number.isSafeInteger(maxCents) || minCents <= 0 || minCents > maxCents) {
    throw new RangeError(`priceCell: bad multiplier bounds [${minCents}, ${maxCents}]`);
  }
  if (p >= 1) return { multiplierCents: minCents, disabled: true, reason: 'certain' };
  if (p <= 0) return { multiplierCents: maxCents, disabled: false };
  const raw = Math.floor(((1 - edge) * 100) / p + FLOOR_SLACK);
  if (raw < minCents) return { multiplierCents: minCents, disabled: true, reason: 'player-edge' };
  return { multiplierCents: Math.min(raw, maxCents), disabled: false };
}
