/*
 * Bet storage, designed for weekly archival:
 * - every bet carries `week` (ISO year * 100 + ISO week of its window end, UTC), indexed, so a
 *   closed week is selected whole by one index range and moved out of this file as a unit
 *   (copied into its own archive file, verified, shipped, then deleted here);
 * - no foreign key from bets to users, so an archived week stands alone in its own file;
 * - every bet that got a 202 ends up here exactly once (open, then settled; or rejected);
 * - money never lives in this table: the stake, payout and refund are ledger rows (ref
 *   `bet:<id>:stake|payout|refund`) in this same file, written in the same transaction as the
 *   bet row; the append-only ledger stays here when bets are archived.
 */
export const up = `
CREATE TABLE bets (
  id               TEXT PRIMARY KEY,
  week             INTEGER NOT NULL,
  address          TEXT NOT NULL,
  quote_id         TEXT NOT NULL,
  band_low         INTEGER NOT NULL,
  band_high        INTEGER NOT NULL,
  window_start     INTEGER NOT NULL,
  window_end       INTEGER NOT NULL,
  stake            INTEGER NOT NULL CHECK (stake > 0),
  multiplier_cents INTEGER NOT NULL CHECK (multiplier_cents >= 100),
  -- open: committed, stake debited, awaiting resolution; won/lost/void: settled;
  -- rejected: refused at commit (nothing debited, the reservation was returned).
  state            TEXT NOT NULL CHECK (state IN ('open', 'won', 'lost', 'void', 'rejected')),
  -- Credited at settlement: stake x multiplier if won, the stake if void, else 0.
  payout           INTEGER NOT NULL DEFAULT 0 CHECK (payout >= 0),
  reason           TEXT,
  placed_at        INTEGER NOT NULL,
  committed_at     INTEGER NOT NULL,
  settled_at       INTEGER,
  CHECK (band_low < band_high),
  CHECK (window_start < window_end)
) STRICT;
CREATE INDEX bets_week ON bets (week);
CREATE INDEX bets_address_placed ON bets (address, placed_at);
CREATE INDEX bets_open_by_end ON bets (window_end) WHERE state = 'open';
INSERT INTO ledger_kinds (kind, sign, description) VALUES
  ('bet-stake', -1, 'stake debited when a bet is committed'),
  ('bet-payout', 1, 'winnings of a bet (stake x multiplier)'),
  ('bet-refund', 1, 'stake returned for a voided bet');
`;
