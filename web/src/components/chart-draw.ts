/** Drawing the chart canvas for one frame: bands, time lines, the price line, bets off the grid. */
import { formatClock, formatMoney, formatPrice } from '../lib/format.js';
import { cellRect, priceToY, timeToX, type Axes } from '../lib/scale.js';
import type { BetEntry } from '../state/bets.js';
import type { Quote, Tick } from '../lib/types.js';

export const COLORS = {
  bg: '#0b0f17',
  band: 'rgba(148, 163, 184, 0.10)',
  bandLabel: '#8b95a7',
  time: 'rgba(148, 163, 184, 0.08)',
  lock: 'rgba(148, 163, 184, 0.07)',
  line: '#f7b731',
  fill: 'rgba(247, 183, 49, 0.10)',
  now: 'rgba(247, 183, 49, 0.55)',
  pending: 'rgba(148, 163, 184, 0.55)',
  open: '#4c8dff',
  won: '#21d07a',
  lost: '#e5484d',
  void: '#a78bfa',
};

export interface FrameInput {
  ctx: CanvasRenderingContext2D;
  axes: Axes;
  now: number;
  quote: Quote | null;
  prices: readonly Tick[];
  /** Bets to draw on the canvas (those not shown by a grid cell). */
  bets: readonly BetEntry[];
  currency: { code: string; decimals: number };
  dpr: number;
}

function firstIndexAtOrAfter(ticks: readonly Tick[], ts: number): number {
  let lo = 0;
  let hi = ticks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ticks[mid] as Tick).ts < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function drawFrame(f: FrameInput): void {
  const { ctx, axes: a, now, quote, prices } = f;
  ctx.setTransform(f.dpr, 0, 0, f.dpr, 0, 0);
  ctx.clearRect(0, 0, a.width, a.height);
  const h = quote?.geometry.rowHeightCents ?? 1000;
  const colMs = (quote?.geometry.columnSeconds ?? 5) * 1000;

  // Bands: horizontal lines every row height, labelled at the left.
  const topPrice = a.centerCents + a.height / 2 / a.pxPerCent;
  const bottomPrice = a.centerCents - a.height / 2 / a.pxPerCent;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = COLORS.bandLabel;
  const labelEvery = a.pxPerCent * h < 22 ? 2 : 1;
  for (let p = Math.floor(bottomPrice / h) * h; p <= topPrice; p += h) {
    const y = Math.round(priceToY(a, p)) + 0.5;
    ctx.strokeStyle = COLORS.band;
    ctx.beginPath();
    ctx.moveTo(0, y);
    ctx.lineTo(a.width, y);
    ctx.stroke();
    if (Math.round(p / h) % labelEvery === 0 && y > 8 && y < a.height - 20) ctx.fillText(formatPrice(p, true), 6, y - 8);
  }

  // Time: a line at every window boundary, seconds-to-go labels along the bottom.
  const firstT = Math.floor((now - a.nowX / a.pxPerMs) / colMs) * colMs;
  ctx.textBaseline = 'alphabetic';
  for (let t = firstT; timeToX(a, t, now) <= a.width; t += colMs) {
    const x = Math.round(timeToX(a, t, now)) + 0.5;
    ctx.strokeStyle = COLORS.time;
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, a.height);
    ctx.stroke();
    if (t % (colMs * 2) === 0 && x > 30 && x < a.width - 30) {
      ctx.fillStyle = COLORS.bandLabel;
      ctx.fillText(formatClock(t).slice(3), x - 14, a.height - 6);
    }
  }

  // Locked zone: windows starting this soon cannot be tapped.
  if (quote) {
    ctx.fillStyle = COLORS.lock;
    ctx.fillRect(a.nowX, 0, quote.geometry.lockSeconds * 1000 * a.pxPerMs, a.height);
  }

  // Bets off the grid (window started, or band no longer quoted).
  for (const b of f.bets) {
    const r = cellRect(a, b, now);
    if (r.x + r.w < 0 || r.x > a.width) continue;
    const color = b.state === 'won' ? COLORS.won : b.state === 'lost' ? COLORS.lost : b.state === 'void' ? COLORS.void : b.state === 'open' ? COLORS.open : COLORS.pending;
    ctx.globalAlpha = b.state === 'lost' ? 0.35 : 0.85;
    ctx.fillStyle = color;
    ctx.globalAlpha *= 0.25;
    ctx.fillRect(r.x, r.y, r.w, r.h);
    ctx.globalAlpha = b.state === 'lost' ? 0.45 : 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(r.x + 0.75, r.y + 0.75, r.w - 1.5, r.h - 1.5);
    ctx.lineWidth = 1;
    if (r.w > 34 && r.h > 14) {
      ctx.fillStyle = '#e6edf7';
      ctx.font = '600 11px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      const label = b.state === 'won' ? `+${formatMoney(b.payout, f.currency)}` : b.state === 'lost' ? 'lost' : b.state === 'void' ? 'void' : formatMoney(b.stake, f.currency);
      ctx.fillText(label, r.x + 4, r.y + r.h / 2, r.w - 6);
    }
    ctx.globalAlpha = 1;
  }

  // The price line: every tick from the left edge to now, then flat to "now".
  const from = now - a.nowX / a.pxPerMs - 2000;
  const i0 = Math.max(0, firstIndexAtOrAfter(prices, from) - 1);
  if (prices.length > i0) {
    ctx.beginPath();
    let lastY = 0;
    for (let i = i0; i < prices.length; i++) {
      const t = prices[i] as Tick;
      const x = Math.min(a.nowX, timeToX(a, t.ts, now));
      lastY = priceToY(a, t.priceCents);
      if (i === i0) ctx.moveTo(x, lastY);
      else ctx.lineTo(x, lastY);
    }
    ctx.lineTo(a.nowX, lastY);
    ctx.strokeStyle = COLORS.line;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    ctx.stroke();
    ctx.lineTo(a.nowX, a.height);
    ctx.lineTo(Math.max(0, timeToX(a, (prices[i0] as Tick).ts, now)), a.height);
    ctx.closePath();
    ctx.fillStyle = COLORS.fill;
    ctx.fill();
    ctx.lineWidth = 1;

    // Now: the vertical line, the dot and the price tag.
    ctx.strokeStyle = COLORS.now;
    ctx.setLineDash([3, 4]);
    ctx.beginPath();
    ctx.moveTo(a.nowX + 0.5, 0);
    ctx.lineTo(a.nowX + 0.5, a.height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = 'rgba(247, 183, 49, 0.25)';
    ctx.beginPath();
    ctx.arc(a.nowX, lastY, 9, 0, Math.PI * 2);
    ctx.fill();
    ctx.fillStyle = COLORS.line;
    ctx.beginPath();
    ctx.arc(a.nowX, lastY, 4, 0, Math.PI * 2);
    ctx.fill();
    const last = prices[prices.length - 1] as Tick;
    const narrow = a.nowX < 120;
    const tag = narrow ? formatPrice(last.priceCents, true).replace(/\.\d\d$/, '').slice(1) : formatPrice(last.priceCents);
    ctx.font = narrow ? '600 11px system-ui, sans-serif' : '600 12px system-ui, sans-serif';
    const w = ctx.measureText(tag).width + (narrow ? 8 : 12);
    const ty = Math.min(Math.max(lastY - 28, 2), a.height - 22);
    // Left of "now" when there is room, else just right of it (narrow screens).
    const tx = Math.max(2, a.nowX - w - 8);
    ctx.fillStyle = COLORS.line;
    ctx.fillRect(tx, ty, w, 20);
    ctx.fillStyle = '#111';
    ctx.textBaseline = 'middle';
    ctx.fillText(tag, tx + (narrow ? 4 : 6), ty + 10);
  }
}
