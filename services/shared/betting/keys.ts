/**
 * Redis keys of the betting path. Available balance = SQLite balance − stakes still queued
 * (`pend`), kept in `bal` by the API's reservation script and the writer's bookkeeping.
 */
export const betKeys = {
  /** Available balance (minor units) of an address: what new taps may spend. */
  balance: (address: string) => `bal:${address}`,
  /** Stakes reserved and queued but not yet committed by the writer. */
  pending: (address: string) => `pend:${address}`,
  /** Idempotency-Key → bet id, per address. */
  idempotency: (address: string, key: string) => `idem:${address}:${key}`,
  /** Per-wallet tap counter of one second. */
  rate: (address: string, second: number) => `rl:bet:${address}:${second}`,
  /** Potential payout reserved on one cell (a band in a window). */
  cellLiability: (startMs: number, lowCents: number) => `liab:cell:${startMs}:${lowCents}`,
  /** Potential payout reserved on one column (window). */
  columnLiability: (startMs: number) => `liab:col:${startMs}`,
  /** A bet accepted but not yet committed (for GET /api/bets/:id while pending). */
  pendingBet: (id: string) => `betp:${id}`,
  /** Marker that one bookkeeping effect (by ledger ref) was applied to the cache. */
  applied: (ref: string) => `applied:${ref}`,
  /** A balance load was requested recently (debounce). */
  loading: (address: string) => `loading:${address}`,
  /** The writer's liveness heartbeat. */
  writerHeartbeat: 'heartbeat:writer',
};
