/**
 * The stale-feed circuit breaker. A pure state machine over one record, evaluated against a clock:
 * - no real price for `staleAfterMs` → OPEN (taps refused);
 * - it CLOSES only after `recoveryMs` of continuously fresh prices (every gap between real price
 *   updates ≤ staleAfterMs); any stale gap restarts that count, so a flapping feed never closes early.
 * Heartbeats are not prices and never reach `onPrice`.
 *
 * The record lives in Redis (written by ingest); every process evaluates it against its own clock,
 * so if ingest dies the breaker still opens everywhere once the last price ages.
 *
 * `breakerStateAt` is the one rule. The quoter's `halted` is this rule at quote time (readBreaker);
 * the reservation script (betting/reserve.ts) checks it again in Lua, atomically with the
 * reservation, and test/integration/breaker-rule.test.ts holds the two equal over the whole state
 * space (a property test against the real script): change both together.
 */
export type BreakerState = 'open' | 'closed';

export interface BreakerConfig {
  staleAfterMs: number;
  recoveryMs: number;
}

export interface BreakerRecord {
  state: BreakerState;
  /** recvTs of the latest real price update, or null if none yet. */
  lastPriceTs: number | null;
  /** Start of the current run of continuously fresh prices, or null. */
  freshSince: number | null;
  /** When `state` last changed. */
  changedAt: number;
  /** Number of state changes since the record was created. */
  transitions: number;
}

export const initialBreaker = (now: number): BreakerRecord => ({ state: 'open', lastPriceTs: null, freshSince: null, changedAt: now, transitions: 0 });

const isStale = (r: BreakerRecord, now: number, c: BreakerConfig) => r.lastPriceTs === null || now - r.lastPriceTs > c.staleAfterMs;

/** The state the record implies at `now` (no side effects). */
export function breakerStateAt(r: BreakerRecord, now: number, c: BreakerConfig): BreakerState {
  if (isStale(r, now, c)) return 'open';
  if (r.state === 'closed') return 'closed';
  return r.freshSince !== null && now - r.freshSince >= c.recoveryMs ? 'closed' : 'open';
}

/** Advance the record to `now`, recording a transition if the state changed. */
export function evaluateBreaker(r: BreakerRecord, now: number, c: BreakerConfig): BreakerRecord {
  const state = breakerStateAt(r, now, c);
  if (state === r.state) return r;
  return { ...r, state, changedAt: now, transitions: r.transitions + 1 };
}

/** A real price update arrived at `ts`. */
export function onPrice(r: BreakerRecord, ts: number, c: BreakerConfig): BreakerRecord {
  if (r.lastPriceTs !== null && ts <= r.lastPriceTs) return evaluateBreaker(r, r.lastPriceTs, c);
  // Evaluate first at ts, before this price: a gap longer than staleAfterMs opens the breaker.
  const before = evaluateBreaker(r, ts, c);
  const gap = before.lastPriceTs === null || ts - before.lastPriceTs > c.staleAfterMs;
  const next = { ...before, lastPriceTs: ts, freshSince: gap ? ts : before.freshSince };
  return evaluateBreaker(next, ts, c);
}

/** Seconds since the last real price (Infinity if none). */
export const stalenessSeconds = (r: BreakerRecord, now: number) => (r.lastPriceTs === null ? Infinity : Math.max(0, now - r.lastPriceTs) / 1000);
