/**
 * Deciding one bet from the settlement series: the same rule its multiplier was priced with
 * (services/shared/pricing/touch.ts, "sampled touch"). Pure: no clock, no I/O.
 *
 * The window is the closed interval [startMs, endMs] on the series' clock (tick `ts` = server receive
 * time). The prices observed in it are
 *   - the price prevailing at window start: the last tick with ts <= startMs, provided it is fresh
 *     (startMs − ts <= staleAfterMs; an older price is no evidence of the price at startMs), and
 *   - every other tick with startMs <= ts <= endMs (so all ticks stamped exactly startMs count, not
 *     only the last of them: each was a price at that instant).
 * A tick with ts > endMs never counts, even if it arrived before the decision ("late tick").
 *
 * Touch: the observed range meets the band, max >= lowCents and min <= highCents (both edges
 * inclusive). Two consecutive prices on either side of the band therefore touch, as the chart line
 * between them does, and as a continuous path must.
 *
 * Feed gap: at some instant t in [startMs, endMs] the newest price at t was older than staleAfterMs
 * (the breaker's definition of stale, clipped to the window). With a = a tick and b = the next tick
 * (or, past the last tick of the window, endMs itself), that is: min(b, endMs) − a > staleAfterMs for
 * a pair whose span reaches into the window; or no fresh prevailing price at startMs. Measuring the
 * last span only up to endMs means a quiet spell that starts inside the window but turns stale only
 * after it does not void the bet: the price was fresh at every instant of the window.
 *
 * Outcome:
 *   touched                 → won  'touched'     (also across or despite a gap: touched in the data
 *                                                 that exists; a straddle across a gap counts, as the
 *                                                 path must have crossed the band)
 *   not touched, gap        → void 'feed-gap'    (refunded: we cannot know)
 *   not touched, no gap     → lost 'not-touched'
 */
import type { Outcome } from '../shared/betting/commands.js';
import type { SettlementTick } from '../shared/market/tick-store.js';

export interface BetWindow {
  lowCents: number;
  highCents: number;
  startMs: number;
  endMs: number;
}

export type DecisionReason = 'touched' | 'not-touched' | 'feed-gap';

export interface Decision {
  outcome: Outcome;
  reason: DecisionReason;
}

export interface DecideOptions {
  /** A price older than this is stale (config.breaker.staleAfterMs), > 0. */
  staleAfterMs: number;
}

/**
 * Decide one bet. `ticks` must be in time order (as the stream returns them) and cover at least
 * [startMs − staleAfterMs, endMs]; ticks outside that range are allowed and ignored as the rule says.
 * Throws a RangeError on a malformed bet (low >= high, start >= end) or staleAfterMs <= 0.
 */
export function decideBet(bet: BetWindow, ticks: readonly SettlementTick[], opts: DecideOptions): Decision {
  const { lowCents, highCents, startMs, endMs } = bet;
  const stale = opts.staleAfterMs;
  if (!(lowCents < highCents)) throw new RangeError(`decideBet: lowCents (${lowCents}) must be < highCents (${highCents})`);
  if (!(startMs < endMs)) throw new RangeError(`decideBet: startMs (${startMs}) must be < endMs (${endMs})`);
  if (!(stale > 0)) throw new RangeError(`decideBet: staleAfterMs (${stale}) must be > 0`);

  // Index of the last tick at or before startMs, and of the first tick after endMs.
  let prevailing = -1;
  let end = ticks.length;
  for (let i = 0; i < ticks.length; i++) {
    const ts = (ticks[i] as SettlementTick).ts;
    if (ts <= startMs) prevailing = i;
    else if (ts > endMs) {
      end = i;
      break;
    }
  }

  let min = Infinity;
  let max = -Infinity;
  let gap = false;
  /** Receive time of the newest price so far, for measuring spans; undefined = none fresh. */
  let newest: number | undefined;
  const observe = (t: SettlementTick) => {
    if (t.priceCents < min) min = t.priceCents;
    if (t.priceCents > max) max = t.priceCents;
  };

  const prev = prevailing >= 0 ? ticks[prevailing] : undefined;
  if (prev && startMs - prev.ts <= stale) {
    observe(prev);
    newest = prev.ts;
    // Earlier ticks stamped exactly startMs were prices in the window too.
    for (let i = prevailing - 1; i >= 0 && (ticks[i] as SettlementTick).ts === startMs; i--) observe(ticks[i] as SettlementTick);
  } else {
    gap = true; // no price at window start: the feed was stale (or not yet started) at startMs
  }
  for (let i = prevailing + 1; i < end; i++) {
    const t = ticks[i] as SettlementTick;
    observe(t);
    if (newest !== undefined && t.ts - newest > stale) gap = true;
    newest = t.ts;
  }
  if (newest !== undefined && endMs - newest > stale) gap = true;

  if (max >= lowCents && min <= highCents) return { outcome: 'won', reason: 'touched' };
  if (gap) return { outcome: 'void', reason: 'feed-gap' };
  return { outcome: 'lost', reason: 'not-touched' };
}
