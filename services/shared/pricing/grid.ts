/**
 * The tap grid: price bands × time windows, each cell priced by `touchProbability` and `priceCell`.
 *
 * Cells are aligned to fixed multiples (bands of rowHeightCents, windows of columnSeconds on the wall
 * clock), so a cell keeps the same band and window across re-quotes and a bet can name it by its
 * bounds. A cell carries every number needed to audit it: with the quote's published spot, σ,
 * monitoring interval and rule, `priceCell(touchProbability({spot, low, high, t1: (startMs − nowMs)/1000,
 * t2: (endMs − nowMs)/1000, sigma, monitoringDt}), rule)` gives back its multiplier exactly.
 */
import { priceCell, type DisabledReason, type PricingRule } from './multiplier.js';
import { touchProbability } from './touch.js';

/** Shape of the grid. */
export interface GridGeometry {
  /** Number of price bands, > 0. */
  rows: number;
  /** Height of a band in cents, integer > 0; bands are [k·h, (k + 1)·h]. */
  rowHeightCents: number;
  /** Number of time windows, > 0. */
  columns: number;
  /** Length of a window in seconds (whole milliseconds), > 0; windows start at multiples of it. */
  columnSeconds: number;
  /** Windows starting less than this many seconds after now are locked (shown, not tappable). ≥ 0. */
  lockSeconds: number;
}

/** Inputs of one quote. */
export interface GridInput {
  /** Spot price in integer cents. */
  spotCents: number;
  /** Volatility per √second. */
  sigma: number;
  /** The quote's clock, ms since epoch (the recvTs clock that settlement uses). */
  nowMs: number;
  geometry: GridGeometry;
  rule: PricingRule;
  /** Seconds between the prices settlement looks at; 0 (default) = continuous. See `touchProbability`. */
  monitoringDt?: number;
}

/** One priced cell. */
export interface GridCell {
  /** 0 = the highest band (the top row on screen). */
  row: number;
  /** 0 = the earliest window. */
  col: number;
  /** Band bottom and top in cents (inclusive: a price equal to either touches). */
  lowCents: number;
  highCents: number;
  /** Window start and end, ms since epoch. */
  startMs: number;
  endMs: number;
  /** Touch probability the multiplier was derived from. */
  probability: number;
  /** Multiplier in hundredths. */
  multiplierCents: number;
  /** True when pricing refuses taps (see `reason`); independent of `locked`. */
  disabled: boolean;
  /** True when the window starts too soon to accept taps. */
  locked: boolean;
  reason?: DisabledReason;
}

/** A priced grid, cells in row-major order (row 0 first, then by column). */
export interface Grid {
  cells: GridCell[];
}

function positiveInteger(name: string, v: number): void {
  if (!(Number.isSafeInteger(v) && v > 0)) throw new RangeError(`buildGrid: ${name} must be a positive integer, got ${v}`);
}

/**
 * Price a grid around the spot.
 *
 * Rows: the band holding the spot, k0 = floor(spot/h), plus floor((rows − 1)/2) bands below and the
 * rest above — with an even row count the extra band goes above. A fixed rule (rather than following
 * the spot within its band) means the rows only move when the spot changes band.
 *
 * Columns: the first window is the first one starting at or after nowMs, i.e. at
 * ceil(nowMs / columnMs)·columnMs, then `columns` consecutive windows. The window already under way is
 * left out on purpose: its price depends on the high/low seen since it opened, which this pure
 * function does not know, and it could not be tapped anyway. So every window is priced with
 * 0 ≤ t1 < t2 from now, and a cell's window never changes while it is on the grid.
 *
 * Locking: a cell is locked when startMs < nowMs + lockSeconds·1000. Locked cells are still priced,
 * so the screen can show them.
 *
 * Throws a RangeError on malformed geometry, a non-positive or non-integer spot, or a grid reaching
 * down to a band at or below zero.
 */
export function buildGrid(input: GridInput): Grid {
  const { spotCents, sigma, nowMs, geometry, rule } = input;
  const monitoringDt = input.monitoringDt ?? 0;
  const { rows, rowHeightCents: h, columns, columnSeconds, lockSeconds } = geometry;
  positiveInteger('spotCents', spotCents);
  positiveInteger('rows', rows);
  positiveInteger('rowHeightCents', h);
  positiveInteger('columns', columns);
  const columnMs = columnSeconds * 1000;
  positiveInteger('columnSeconds·1000', columnMs);
  if (!(Number.isFinite(lockSeconds) && lockSeconds >= 0)) throw new RangeError(`buildGrid: bad lockSeconds ${lockSeconds}`);
  if (!Number.isFinite(nowMs)) throw new RangeError(`buildGrid: bad nowMs ${nowMs}`);

  const spotBand = Math.floor(spotCents / h);
  const bottomBand = spotBand - Math.floor((rows - 1) / 2);
  const topBand = bottomBand + rows - 1;
  if (bottomBand <= 0) throw new RangeError(`buildGrid: the grid would reach a band at or below zero (row height ${h})`);
  const firstStart = Math.ceil(nowMs / columnMs) * columnMs;
  const lockUntil = nowMs + lockSeconds * 1000;

  const cells: GridCell[] = [];
  for (let row = 0; row < rows; row++) {
    const band = topBand - row;
    const lowCents = band * h;
    const highCents = lowCents + h;
    for (let col = 0; col < columns; col++) {
      const startMs = firstStart + col * columnMs;
      const endMs = startMs + columnMs;
      const probability = touchProbability({
        spot: spotCents,
        low: lowCents,
        high: highCents,
        t1: (startMs - nowMs) / 1000,
        t2: (endMs - nowMs) / 1000,
        sigma,
        monitoringDt,
      });
      const price = priceCell(probability, rule);
      const cell: GridCell = {
        row,
        col,
        lowCents,
        highCents,
        startMs,
        endMs,
        probability,
        multiplierCents: price.multiplierCents,
        disabled: price.disabled,
        locked: startMs < lockUntil,
      };
      if (price.reason !== undefined) cell.reason = price.reason;
      cells.push(cell);
    }
  }
  return { cells };
}
