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
  /**
   * The newest writer-queue entry (stream id) whose cache effects on this address are applied:
   * one key per account, so exactly-once bookkeeping costs no memory per bet.
   */
  appliedUpTo: (address: string) => `applied:${address}`,
  /** Ids of an address's bets accepted but not yet committed (sorted set by placement time). */
  pendingBets: (address: string) => `pendbets:${address}`,
  /** Where the writer answers a MoveCommand (a list: BLPOP-able). */
  moveResult: (id: string) => `mvres:${id}`,
  /** A balance load was requested recently (debounce). */
  loading: (address: string) => `loading:${address}`,
};
