/**
 * The chart's two axes and the grid over them. Time runs left to right with "now" pinned at
 * `nowX`; price runs bottom to top. The grid's cells sit on the same axes, so a cell's rectangle is
 * exactly its band × window, and a pointer position maps back to the cell under it.
 */
import type { QuoteCell } from './types.js';

export interface Axes {
  /** Plot size in CSS px. */
  width: number;
  height: number;
  /** x of "now". */
  nowX: number;
  /** Horizontal scale: px per ms. */
  pxPerMs: number;
  /** Price at the vertical centre of the plot, in cents (may be fractional while animating). */
  centerCents: number;
  /** Vertical scale: px per cent. */
  pxPerCent: number;
}

export interface AxesInput {
  width: number;
  height: number;
  /** Time span shown right of now (the grid), ms. */
  futureMs: number;
  /** Fraction of the width left of now (history). */
  historyFraction: number;
  /** Price range that must fit vertically, cents. */
  lowCents: number;
  highCents: number;
}

export function makeAxes(i: AxesInput): Axes {
  const nowX = Math.round(i.width * i.historyFraction);
  const pxPerMs = (i.width - nowX) / Math.max(1, i.futureMs);
  const span = Math.max(1, i.highCents - i.lowCents);
  return { width: i.width, height: i.height, nowX, pxPerMs, centerCents: (i.lowCents + i.highCents) / 2, pxPerCent: i.height / span };
}

export const timeToX = (a: Axes, t: number, now: number) => a.nowX + (t - now) * a.pxPerMs;
export const xToTime = (a: Axes, x: number, now: number) => now + (x - a.nowX) / a.pxPerMs;
export const priceToY = (a: Axes, cents: number) => a.height / 2 - (cents - a.centerCents) * a.pxPerCent;
export const yToPrice = (a: Axes, y: number) => a.centerCents + (a.height / 2 - y) / a.pxPerCent;

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The rectangle of a band × window at time `now`. */
export function cellRect(a: Axes, c: Pick<QuoteCell, 'lowCents' | 'highCents' | 'startMs' | 'endMs'>, now: number): Rect {
  const x = timeToX(a, c.startMs, now);
  const y = priceToY(a, c.highCents);
  return { x, y, w: (c.endMs - c.startMs) * a.pxPerMs, h: (c.highCents - c.lowCents) * a.pxPerCent };
}

/**
 * The cell under (x, y) at time `now`, or undefined. Windows and bands are half-open here
 * ([start, end) × [low, high)), so a point on a shared edge belongs to exactly one cell; a point
 * left of "now" never hits (the past cannot be tapped).
 */
export function cellAt<C extends Pick<QuoteCell, 'lowCents' | 'highCents' | 'startMs' | 'endMs'>>(a: Axes, cells: readonly C[], x: number, y: number, now: number): C | undefined {
  if (x < a.nowX || x < 0 || y < 0 || x >= a.width || y >= a.height) return undefined;
  const t = xToTime(a, x, now);
  const p = yToPrice(a, y);
  return cells.find((c) => t >= c.startMs && t < c.endMs && p >= c.lowCents && p < c.highCents);
}

/** Move a value toward a target with a time constant (frame-rate independent easing). */
export function ease(current: number, target: number, dtMs: number, tauMs: number): number {
  if (tauMs <= 0 || !Number.isFinite(current)) return target;
  const k = 1 - Math.exp(-dtMs / tauMs);
  const next = current + (target - current) * k;
  return Math.abs(next - target) < 1e-3 ? target : next;
}
