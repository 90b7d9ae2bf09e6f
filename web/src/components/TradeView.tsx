/**
 * The live chart with the tap grid over its future. The canvas is redrawn every frame; the grid is
 * DOM (for the ARIA grid pattern) positioned once per quote and moved by one transform per frame,
 * so a frame writes one style and reads no layout.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatClock, formatMoney, formatMultiplier, formatPrice, formatUnits } from '../lib/format.js';
import { cellAt, ease, makeAxes, priceToY, type Axes } from '../lib/scale.js';
import type { Quote, QuoteCell } from '../lib/types.js';
import { betsByCell, type BetEntry } from '../state/bets.js';
import type { State, Store } from '../state/store.js';
import { drawFrame } from './chart-draw.js';

const cellKey = (c: { lowCents: number; startMs: number }) => `${c.lowCents}:${c.startMs}`;

function geometryOf(q: Quote) {
  let low = Infinity;
  let high = -Infinity;
  for (const c of q.cells) {
    if (c.lowCents < low) low = c.lowCents;
    if (c.highCents > high) high = c.highCents;
  }
  return { low, high, top: high };
}

function cellName(c: QuoteCell, halted: boolean): string {
  const state = halted ? ', trading halted' : c.locked ? ', locked: starts too soon' : c.disabled ? ', not offered' : '';
  return `${formatPrice(c.lowCents, true)} to ${formatPrice(c.highCents, true)}, ${formatClock(c.startMs)} to ${formatClock(c.endMs)}, ${formatMultiplier(c.multiplierCents)}${state}`;
}

/** What a cell with the player's bet on it shows: the stake, then the state or multiplier. */
function tileLabel(bets: BetEntry[], currency: { code: string; decimals: number }): { cls: string; top: string; bottom: string; state: string } | undefined {
  const live = bets.filter((x) => x.state !== 'rejected');
  if (!live.length) return undefined;
  const b = live.reduce((a, x) => (x.placedAt > a.placedAt ? x : a));
  const money = formatMoney(live.reduce((sum, x) => sum + x.stake, 0), currency);
  switch (b.state) {
    case 'pending':
      return { cls: 'tile-pending', top: money, bottom: 'pending…', state: 'pending' };
    case 'open':
      return { cls: 'tile-open', top: money, bottom: formatMultiplier(b.multiplierCents), state: 'open' };
    case 'won':
      return { cls: 'tile-won', top: `+${formatMoney(b.payout, currency)}`, bottom: 'won', state: 'won' };
    case 'lost':
      return { cls: 'tile-lost', top: money, bottom: 'lost', state: 'lost' };
    default:
      return { cls: 'tile-void', top: money, bottom: 'refunded', state: 'void' };
  }
}

export function TradeView({ store, state }: { store: Store; state: State }) {
  const { quote, book, paused, config } = state;
  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const gridRef = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ w: 0, h: 0 });
  const [active, setActive] = useState({ row: 0, col: 1 });
  const currency = config?.currency ?? { code: 'USD', decimals: 2 };

  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    const ro = new ResizeObserver((entries) => {
      const r = entries[0]?.contentRect;
      if (r) setSize({ w: Math.round(r.width), h: Math.round(r.height) });
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const geo = quote ? geometryOf(quote) : undefined;
  const colMs = (quote?.geometry.columnSeconds ?? 5) * 1000;
  const rowCents = quote?.geometry.rowHeightCents ?? 1000;
  const narrow = size.w < 600;
  // The vertical range: the grid's bands plus one band of margin, widened (in whole bands, so it
  // changes rarely) to keep the visible history on screen; recomputed with each quote.
  const historyFraction = narrow ? 0.18 : 0.3;
  const futureMs = ((quote?.geometry.columns ?? 8) + 1) * colMs;
  let lowCents = geo ? geo.low - rowCents : 0;
  let highCents = geo ? geo.high + rowCents : 0;
  if (geo && size.w) {
    const since = store.now() - (futureMs * historyFraction) / (1 - historyFraction);
    for (let i = store.prices.length - 1; i >= 0; i--) {
      const t = store.prices[i];
      if (!t) break;
      if (t.priceCents < lowCents) lowCents = Math.floor(t.priceCents / rowCents) * rowCents;
      if (t.priceCents > highCents) highCents = Math.ceil(t.priceCents / rowCents) * rowCents;
      if (t.ts < since) break;
    }
    // Never squeeze the grid below half the height.
    const span = Math.min(highCents - lowCents, 2 * (geo.high - geo.low + 2 * rowCents));
    const mid = (geo.low + geo.high) / 2;
    lowCents = Math.max(lowCents, mid - span / 2 - rowCents);
    highCents = Math.min(highCents, mid + span / 2 + rowCents);
  }
  const axes: Axes | undefined = useMemo(() => {
    if (!geo || !size.w || !size.h) return undefined;
    return makeAxes({ width: size.w, height: size.h, futureMs, historyFraction, lowCents, highCents });
  }, [lowCents, highCents, size.w, size.h, futureMs, historyFraction]);

  // Shared with the frame loop without re-rendering.
  const live = useRef({ axes, quote, book, anchor: 0, center: NaN, paused, dirty: true, quoted: new Set<string>(), currency });
  // Cells are placed relative to a time anchor that changes once a minute, not with every quote:
  // a re-quote then changes only texts, and cell positions move only when the columns roll.
  const anchor = quote ? Math.floor(quote.createdAt / 60_000) * 60_000 : 0;
  const byCell = useMemo(() => betsByCell(book), [book]);
  const quoted = useMemo(() => new Set(quote?.cells.map(cellKey) ?? []), [quote]);
  live.current = { ...live.current, axes, quote, book, anchor, paused, dirty: true, quoted, currency };

  useEffect(() => {
    let raf = 0;
    let last = performance.now();
    let firstGrid = false;
    const frame = (t: number) => {
      raf = requestAnimationFrame(frame);
      const L = live.current;
      const dt = t - last;
      last = t;
      if (!L.axes || !L.quote) return;
      if (L.paused && !L.dirty) return;
      L.dirty = false;
      const canvas = canvasRef.current;
      const ctx = canvas?.getContext('2d');
      if (!canvas || !ctx) return;
      const dpr = window.devicePixelRatio || 1;
      const want = { w: Math.round(L.axes.width * dpr), h: Math.round(L.axes.height * dpr) };
      if (canvas.width !== want.w || canvas.height !== want.h) {
        canvas.width = want.w;
        canvas.height = want.h;
      }
      // Ease the vertical centre when the grid moves a band (no jump), unless motion is paused.
      const target = L.axes.centerCents;
      L.center = L.paused ? target : ease(L.center, target, dt, 140);
      const axes = { ...L.axes, centerCents: L.center };
      const now = store.now();
      const offGrid = [...L.book.byId.values()].filter((b) => b.state !== 'rejected' && (!L.quoted.has(cellKey(b)) || b.startMs <= now));
      drawFrame({ ctx, axes, now, quote: L.quote, prices: store.prices, bets: offGrid, currency: L.currency, dpr });
      const grid = gridRef.current;
      if (grid) {
        const x = (L.anchor - now) * axes.pxPerMs;
        const y = priceToY(axes, geometryOf(L.quote).top);
        grid.style.transform = `translate3d(${x.toFixed(2)}px, ${y.toFixed(2)}px, 0)`;
        if (!firstGrid && L.quote.cells.length) {
          firstGrid = true;
          performance.mark('tapstack:first-grid');
        }
      }
    };
    raf = requestAnimationFrame(frame);
    return () => cancelAnimationFrame(raf);
  }, [store]);

  if (!quote || !axes) {
    return (
      <div class="trade" ref={wrapRef}>
        <div class="trade-empty" role="status">{state.connection === 'live' ? 'Waiting for the first prices…' : 'Connecting to the market…'}</div>
      </div>
    );
  }

  const rows = quote.geometry.rows;
  const cols = quote.geometry.columns;
  const rowPx = rowCents * axes.pxPerCent;
  const colPx = colMs * axes.pxPerMs;
  const at = (row: number, col: number) => quote.cells[row * cols + col];
  const clampActive = { row: Math.min(active.row, rows - 1), col: Math.min(active.col, cols - 1) };

  const onKeyDown = (e: KeyboardEvent) => {
    let { row, col } = clampActive;
    switch (e.key) {
      case 'ArrowUp': row = Math.max(0, row - 1); break;
      case 'ArrowDown': row = Math.min(rows - 1, row + 1); break;
      case 'ArrowLeft': col = Math.max(0, col - 1); break;
      case 'ArrowRight': col = Math.min(cols - 1, col + 1); break;
      case 'Home': col = 0; break;
      case 'End': col = cols - 1; break;
      case 'PageUp': row = 0; break;
      case 'PageDown': row = rows - 1; break;
      case 'Enter':
      case ' ': {
        e.preventDefault();
        const c = at(row, col);
        if (c) void store.tap(c);
        return;
      }
      default:
        return;
    }
    e.preventDefault();
    setActive({ row, col });
    const el = gridRef.current?.querySelector<HTMLElement>(`[data-rc="${row}:${col}"]`);
    el?.focus({ preventScroll: true });
  };

  // Pointer taps go through the same hit-test as the drawing: the cell under the point now.
  const onClick = (e: MouseEvent) => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const r = wrap.getBoundingClientRect();
    const c = cellAt({ ...axes, centerCents: Number.isFinite(live.current.center) ? live.current.center : axes.centerCents }, quote.cells, e.clientX - r.left, e.clientY - r.top, store.now());
    if (!c) return;
    setActive({ row: c.row, col: c.col });
    void store.tap(c);
  };

  return (
    <div class={`trade${quote.halted ? ' halted' : ''}`} ref={wrapRef}>
      <canvas ref={canvasRef} class="chart" aria-hidden="true" />
      <div class="grid-viewport" style={{ left: `${axes.nowX}px` }} onClick={onClick}>
        <div ref={gridRef} class="grid" role="grid" aria-label="Tap grid: price bands by time windows. Arrow keys move, Enter or Space taps." aria-rowcount={rows} aria-colcount={cols} onKeyDown={onKeyDown}>
          {Array.from({ length: rows }, (_, row) => (
            <div role="row" class="grid-row" key={row} aria-rowindex={row + 1} style={{ top: `${(row * rowPx).toFixed(2)}px`, height: `${rowPx.toFixed(2)}px` }}>
              {Array.from({ length: cols }, (_, col) => {
                const c = at(row, col);
                if (!c) return null;
                const off = quote.halted || c.locked || c.disabled;
                const isActive = row === clampActive.row && col === clampActive.col;
                const tile = tileLabel(byCell.get(cellKey(c)) ?? [], currency);
                return (
                  <div
                    key={col}
                    role="gridcell"
                    data-rc={`${row}:${col}`}
                    data-bet-state={tile?.state}
                    aria-colindex={col + 1}
                    aria-disabled={off ? 'true' : undefined}
                    aria-label={cellName(c, quote.halted) + (tile ? `, your bet: ${tile.top} ${tile.bottom}` : '')}
                    tabIndex={isActive ? 0 : -1}
                    class={`cell${c.locked ? ' locked' : ''}${c.disabled && !c.locked ? ' disabled' : ''}${tile ? ` ${tile.cls}` : ''}`}
                    style={{ left: `${((c.startMs - anchor) * axes.pxPerMs).toFixed(2)}px`, width: `${colPx.toFixed(2)}px` }}
                  >
                    {tile ? (
                      <>
                        <span class="tile-top">{tile.top}</span> <span class="tile">{tile.bottom}</span>
                      </>
                    ) : (
                      <span class="mult">{narrow ? formatUnits(c.multiplierCents, 2) : formatMultiplier(c.multiplierCents)}</span>
                    )}
                  </div>
                );
              })}
            </div>
          ))}
        </div>
      </div>
      {paused && <div class="paused-tag">Motion paused</div>}
    </div>
  );
}
