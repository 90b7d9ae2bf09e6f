import { describe, expect, it } from 'vitest';
import { cellAt, cellRect, ease, makeAxes, priceToY, timeToX, xToTime, yToPrice } from '../src/lib/scale.js';
import type { QuoteCell } from '../src/lib/types.js';

const NOW = 1_700_000_002_500;
const axes = makeAxes({ width: 1000, height: 500, futureMs: 45_000, historyFraction: 0.3, lowCents: 9_995_000, highCents: 10_005_000 });

function grid(): QuoteCell[] {
  const cells: QuoteCell[] = [];
  const first = Math.ceil(NOW / 5000) * 5000;
  for (let row = 0; row < 10; row++) {
    for (let col = 0; col < 8; col++) {
      const lowCents = 10_004_000 - row * 1000;
      cells.push({ row, col, lowCents, highCents: lowCents + 1000, startMs: first + col * 5000, endMs: first + (col + 1) * 5000, probability: 0.2, multiplierCents: 475, disabled: false, locked: col === 0 });
    }
  }
  return cells;
}

describe('time and price ↔ pixel mapping', () => {
  it('pins now at nowX and spreads the future over the rest of the width', () => {
    expect(axes.nowX).toBe(300);
    expect(timeToX(axes, NOW, NOW)).toBe(300);
    expect(timeToX(axes, NOW + 45_000, NOW)).toBeCloseTo(1000, 9);
    expect(timeToX(axes, NOW - 10_000, NOW)).toBeCloseTo(300 - 10_000 * axes.pxPerMs, 9);
  });
  it('puts the range centre mid-height, higher prices higher up', () => {
    expect(priceToY(axes, 10_000_000)).toBe(250);
    expect(priceToY(axes, 10_005_000)).toBeCloseTo(0, 9);
    expect(priceToY(axes, 9_995_000)).toBeCloseTo(500, 9);
    expect(priceToY(axes, 10_001_000)).toBeLessThan(priceToY(axes, 10_000_000));
  });
  it('inverts exactly', () => {
    for (const x of [0, 123.4, 300, 999]) expect(timeToX(axes, xToTime(axes, x, NOW), NOW)).toBeCloseTo(x, 4);
    for (const y of [0, 77.7, 250, 499]) expect(priceToY(axes, yToPrice(axes, y))).toBeCloseTo(y, 6);
  });
  it('moves everything left as time passes, at pxPerMs', () => {
    const t = NOW + 20_000;
    expect(timeToX(axes, t, NOW) - timeToX(axes, t, NOW + 1000)).toBeCloseTo(1000 * axes.pxPerMs, 9);
  });
  it('a cell rectangle is its band × window on the same axes', () => {
    const c = grid()[12] as QuoteCell;
    const r = cellRect(axes, c, NOW);
    expect(r.x).toBeCloseTo(timeToX(axes, c.startMs, NOW), 9);
    expect(r.y).toBeCloseTo(priceToY(axes, c.highCents), 9);
    expect(r.w).toBeCloseTo(5000 * axes.pxPerMs, 9);
    expect(r.h).toBeCloseTo(1000 * axes.pxPerCent, 9);
  });
});

describe('cell hit-testing', () => {
  const cells = grid();
  it('finds the cell under the centre of every cell rectangle', () => {
    for (const c of cells) {
      const r = cellRect(axes, c, NOW);
      if (r.x < axes.nowX || r.x + r.w > axes.width) continue;
      expect(cellAt(axes, cells, r.x + r.w / 2, r.y + r.h / 2, NOW)).toBe(c);
    }
  });
  it('a point on a shared edge belongs to exactly one cell (half-open windows and bands)', () => {
    const c = cells.find((x) => x.row === 3 && x.col === 2) as QuoteCell;
    const r = cellRect(axes, c, NOW);
    expect(cellAt(axes, cells, r.x, r.y + r.h / 2, NOW)).toBe(c);
    expect(cellAt(axes, cells, r.x + r.w, r.y + r.h / 2, NOW)?.col).toBe(3);
    // Bottom edge = lowCents belongs to this band; top edge = highCents to the band above.
    expect(cellAt(axes, cells, r.x + 1, r.y + r.h - 1e-9, NOW)).toBe(c);
    expect(cellAt(axes, cells, r.x + 1, r.y - 1e-6, NOW)?.row).toBe(2);
  });
  it('never hits left of now, outside the plot, or where no cell is', () => {
    expect(cellAt(axes, cells, axes.nowX - 1, 250, NOW)).toBeUndefined();
    expect(cellAt(axes, cells, 1000, 250, NOW)).toBeUndefined();
    expect(cellAt(axes, cells, 500, -1, NOW)).toBeUndefined();
    // Between now and the first window start there is no cell.
    const firstX = timeToX(axes, (cells[0] as QuoteCell).startMs, NOW);
    expect(cellAt(axes, cells, (axes.nowX + firstX) / 2, 250, NOW)).toBeUndefined();
  });
  it('the same screen point hits a later window as time passes', () => {
    const x = timeToX(axes, (cells[3] as QuoteCell).startMs + 100, NOW);
    expect(cellAt(axes, cells, x, 250, NOW)?.col).toBe(3);
    expect(cellAt(axes, cells, x, 250, NOW + 5000)?.col).toBe(4);
  });
});

describe('easing', () => {
  it('approaches the target without overshoot and snaps when close', () => {
    let v = 0;
    for (let i = 0; i < 10; i++) {
      const next = ease(v, 100, 16, 120);
      expect(next).toBeGreaterThan(v);
      expect(next).toBeLessThanOrEqual(100);
      v = next;
    }
    expect(ease(99.9999, 100, 16, 120)).toBe(100);
    expect(ease(5, 100, 16, 0)).toBe(100);
  });
});
