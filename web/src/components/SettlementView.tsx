/**
 * Why a bet won or lost: its band and window, the quote's probability and multiplier, and the
 * settlement ticks of its window drawn against the band with the high and low that decided it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api/client.js';
import { formatClock, formatMoney, formatMultiplier, formatPrice } from '../lib/format.js';
import { sentenceFor } from '../lib/messages.js';
import type { Tick } from '../lib/types.js';
import type { State, Store } from '../state/store.js';

interface TicksAnswer {
  bet: { id: string; state: string; reason: string | null; lowCents: number; highCents: number; startMs: number; endMs: number; stake: number; multiplierCents: number; payout: number; quoteId: string };
  prevailing: Tick | null;
  observed: { highCents: number | null; lowCents: number | null; count: number };
  quote?: { probability: number; spotCents: number; sigma: number; edge: number } | null;
  ticks: Tick[];
}

function draw(canvas: HTMLCanvasElement, d: TicksAnswer) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const { bet } = d;
  const t0 = bet.startMs - 5000;
  const t1 = bet.endMs + 5000;
  const prices = [...d.ticks.map((t) => t.priceCents), bet.lowCents, bet.highCents];
  const lo = Math.min(...prices);
  const hi = Math.max(...prices);
  const pad = Math.max(200, (hi - lo) * 0.15);
  const x = (t: number) => 44 + ((t - t0) / (t1 - t0)) * (w - 52);
  const y = (p: number) => 8 + ((hi + pad - p) / (hi - lo + 2 * pad)) * (h - 28);
  ctx.fillStyle = '#0b0f17';
  ctx.fillRect(0, 0, w, h);
  // The band during the window.
  const color = bet.state === 'won' ? '#21d07a' : bet.state === 'lost' ? '#e5484d' : bet.state === 'void' ? '#a78bfa' : '#4c8dff';
  ctx.fillStyle = color + '33';
  ctx.fillRect(x(bet.startMs), y(bet.highCents), x(bet.endMs) - x(bet.startMs), y(bet.lowCents) - y(bet.highCents));
  ctx.strokeStyle = color;
  ctx.strokeRect(x(bet.startMs) + 0.5, y(bet.highCents) + 0.5, x(bet.endMs) - x(bet.startMs), y(bet.lowCents) - y(bet.highCents));
  // Observed high and low inside the window.
  ctx.setLineDash([4, 4]);
  ctx.strokeStyle = '#e6edf7';
  for (const p of [d.observed.highCents, d.observed.lowCents]) {
    if (p === null) continue;
    ctx.beginPath();
    ctx.moveTo(x(bet.startMs), y(p));
    ctx.lineTo(x(bet.endMs), y(p));
    ctx.stroke();
  }
  ctx.setLineDash([]);
  // Ticks, as the chart draws them.
  ctx.strokeStyle = '#f7b731';
  ctx.lineWidth = 2;
  ctx.beginPath();
  d.ticks.forEach((t, i) => (i ? ctx.lineTo(x(t.ts), y(t.priceCents)) : ctx.moveTo(x(t.ts), y(t.priceCents))));
  ctx.stroke();
  ctx.fillStyle = '#f7b731';
  for (const t of d.ticks) if (t.ts >= bet.startMs && t.ts <= bet.endMs) ctx.fillRect(x(t.ts) - 1.5, y(t.priceCents) - 1.5, 3, 3);
  ctx.lineWidth = 1;
  ctx.fillStyle = '#8b95a7';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(formatPrice(bet.highCents, true), 2, y(bet.highCents) + 4);
  ctx.fillText(formatPrice(bet.lowCents, true), 2, y(bet.lowCents) + 4);
  ctx.fillText(formatClock(bet.startMs), x(bet.startMs) - 22, h - 4);
  ctx.fillText(formatClock(bet.endMs), x(bet.endMs) - 22, h - 4);
}

export function SettlementView({ store, state, id }: { store: Store; state: State; id: string }) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [data, setData] = useState<TicksAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const entry = state.book.byId.get(id);
  const currency = state.me?.currency ?? { code: 'USD', decimals: 2 };

  useEffect(() => {
    dialogRef.current?.showModal();
  }, []);
  useEffect(() => {
    let stop = false;
    const load = () =>
      api<TicksAnswer>('GET', `/api/bets/${encodeURIComponent(id)}/ticks`)
        .then(({ body }) => !stop && setData(body))
        .catch((err: unknown) => !stop && setError(sentenceFor(err instanceof ApiError ? err.code : 'internal')));
    void load();
    // Refresh while the window is still running or the bet is not settled yet.
    const timer = setInterval(() => entry && (entry.state === 'open' || entry.state === 'pending') && void load(), 1500);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [id, entry?.state]);
  useEffect(() => {
    if (data && canvasRef.current) draw(canvasRef.current, data);
  }, [data]);

  const close = () => store.openBet(null);
  const bet = data?.bet ?? entry;
  const probability = data?.quote?.probability ?? entry?.probability;
  const touched = data && data.observed.highCents !== null && data.observed.lowCents !== null && bet ? data.observed.highCents >= bet.lowCents && data.observed.lowCents <= bet.highCents : undefined;
  return (
    <dialog ref={dialogRef} class="settlement" aria-labelledby="settle-title" onClose={close} onCancel={close}>
      <div class="settle-head">
        <h2 id="settle-title">Settlement of bet {id.slice(0, 10)}…</h2>
        <button type="button" class="btn ghost" onClick={close}>
          Close
        </button>
      </div>
      {bet && (
        <dl class="facts">
          <div><dt>Outcome</dt><dd data-testid="settle-state">{bet.state === 'open' ? 'Window running or being decided' : bet.state}</dd></div>
          <div><dt>Band</dt><dd>{formatPrice(bet.lowCents)} – {formatPrice(bet.highCents)}</dd></div>
          <div><dt>Window</dt><dd>{formatClock(bet.startMs)} – {formatClock(bet.endMs)} ({Math.round((bet.endMs - bet.startMs) / 1000)} s)</dd></div>
          <div><dt>Stake × multiplier</dt><dd>{formatMoney(bet.stake, currency)} × {formatMultiplier(bet.multiplierCents)}</dd></div>
          <div><dt>Touch probability (quote)</dt><dd>{probability !== undefined ? `${(probability * 100).toFixed(1)} %` : `≈ ${((1 - (state.quote?.edge ?? 0.05)) / (bet.multiplierCents / 100) * 100).toFixed(1)} % (implied by the multiplier)`}</dd></div>
          {data && <div><dt>Observed high / low</dt><dd data-testid="settle-range">{data.observed.highCents !== null ? `${formatPrice(data.observed.highCents)} / ${formatPrice(data.observed.lowCents ?? 0)}` : 'no prices yet'} ({data.observed.count} prices)</dd></div>}
          {touched !== undefined && <div><dt>Touched the band?</dt><dd>{touched ? 'Yes' : 'No'}</dd></div>}
          {bet.state === 'won' && <div><dt>Paid</dt><dd>{formatMoney(bet.payout, currency)}</dd></div>}
        </dl>
      )}
      <canvas ref={canvasRef} class="settle-chart" role="img" aria-label="Price ticks of the window against the band" />
      {bet?.reason && <p class="muted">{sentenceFor(bet.reason)}</p>}
      {error && <p class="error">{error}</p>}
    </dialog>
  );
}
