/**
 * Combines several price sources into the settlement series: the median of each source's latest
 * fresh price after dropping outliers. Only real price updates count toward freshness; heartbeats
 * prove a link, not a price, so they never reach the aggregator.
 */
import type { Tick } from '../shared/market/tick.js';

/** Options of `createAggregator`. */
export interface AggregatorOptions {
  /** A source's price counts for this long after its `recvTs`. */
  staleAfterMs: number;
  /** Sources further than this (basis points) from the median of all fresh sources are dropped. */
  maxDeviationBps: number;
  /** Fewest agreeing sources that still make a settlement price. */
  minSources: number;
  /** Clock for `status()` ages only; the median itself runs on the ticks' `recvTs`. */
  now?: () => number;
}

/** Per-source state for metrics and the health page. */
export interface SourceStatus {
  source: string;
  priceCents: number;
  /** `recvTs` of the source's latest tick. */
  recvTs: number;
  ageMs: number;
  fresh: boolean;
  /** Dropped as an outlier in the most recent median. */
  rejected: boolean;
}

/** The aggregator. */
export interface Aggregator {
  /**
   * Record a source tick and return the settlement tick (`source: 'median'`, stamped with the
   * incoming tick's `recvTs`), or `undefined` when fewer than `minSources` fresh sources agree.
   */
  push(tick: Tick): Tick | undefined;
  /** Every source seen so far, sorted by name. */
  status(): SourceStatus[];
}

interface Latest {
  priceCents: number;
  recvTs: number;
  rejected: boolean;
}

/** Median of a non-empty list of integer cents; an even count averages the middle pair, rounding half up. */
export function medianCents(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const hi = s[mid] as number;
  if (s.length % 2 === 1) return hi;
  const lo = s[mid - 1] as number;
  return Math.floor((lo + hi + 1) / 2);
}

/** Create an aggregator. */
export function createAggregator(o: AggregatorOptions): Aggregator {
  if (!(o.minSources >= 1)) throw new Error('minSources must be at least 1');
  const now = o.now ?? Date.now;
  const latest = new Map<string, Latest>();

  const isFresh = (l: Latest, at: number): boolean => at - l.recvTs <= o.staleAfterMs;

  return {
    push(tick) {
      // The settlement series must never feed itself back in, and nonsense prices are not evidence.
      if (tick.source === 'median' || !Number.isSafeInteger(tick.priceCents) || tick.priceCents <= 0) return undefined;
      const prev = latest.get(tick.source);
      if (!prev || tick.recvTs >= prev.recvTs) latest.set(tick.source, { priceCents: tick.priceCents, recvTs: tick.recvTs, rejected: prev?.rejected ?? false });

      const at = tick.recvTs;
      const fresh: Latest[] = [];
      for (const l of latest.values()) {
        l.rejected = false;
        if (isFresh(l, at)) fresh.push(l);
      }
      if (fresh.length < o.minSources) return undefined;
      const all = medianCents(fresh.map((l) => l.priceCents));
      const kept: Latest[] = [];
      for (const l of fresh) {
        // Integer cross-multiplication: |p - m| / m > bps / 10_000, without float rounding at the edge.
        if (Math.abs(l.priceCents - all) * 10_000 > o.maxDeviationBps * all) l.rejected = true;
        else kept.push(l);
      }
      if (kept.length < o.minSources) return undefined;
      const priceCents = medianCents(kept.map((l) => l.priceCents));
      return { source: 'median', priceCents, ts: tick.recvTs, recvTs: tick.recvTs };
    },
    status() {
      const t = now();
      return [...latest.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([source, l]) => ({ source, priceCents: l.priceCents, recvTs: l.recvTs, ageMs: t - l.recvTs, fresh: isFresh(l, t), rejected: l.rejected }));
    },
  };
}
