/** Bets in SQLite. Written only by the writer (inside its batch transaction); read by the API and resolver. */
import type { Db } from '../db/database.js';

export type BetState = 'open' | 'won' | 'lost' | 'void' | 'rejected';

export interface BetRow {
  id: string;
  week: number;
  address: string;
  quoteId: string;
  lowCents: number;
  highCents: number;
  startMs: number;
  endMs: number;
  stake: number;
  multiplierCents: number;
  state: BetState;
  payout: number;
  reason: string | null;
  placedAt: number;
  committedAt: number;
  settledAt: number | null;
  /** The writer-queue entry (stream id) that committed this bet. */
  queueId: string | null;
  /** The writer-queue entry that settled it. */
  settledBy: string | null;
}

const COLUMNS = `id, week, address, quote_id AS quoteId, band_low AS lowCents, band_high AS highCents,
  window_start AS startMs, window_end AS endMs, stake, multiplier_cents AS multiplierCents, state, payout,
  reason, placed_at AS placedAt, committed_at AS committedAt, settled_at AS settledAt, queue_id AS queueId,
  settled_by AS settledBy`;

/** ISO-8601 week of a time (UTC) as year * 100 + week, e.g. 202647: the archival partition key. */
export function isoWeek(ms: number): number {
  const DAY = 86_400_000;
  const d = new Date(ms);
  const weekday = (d.getUTCDay() + 6) % 7; // Monday = 0
  // The ISO year is the year of this week's Thursday; week 1 is the week holding January 4th.
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) + (3 - weekday) * DAY;
  const year = new Date(thursday).getUTCFullYear();
  const jan4 = Date.UTC(year, 0, 4);
  const firstThursday = jan4 + (3 - ((new Date(jan4).getUTCDay() + 6) % 7)) * DAY;
  return year * 100 + 1 + Math.round((thursday - firstThursday) / (7 * DAY));
}

/** A bet as the writer hands it to insertBet: the stored row without what insertBet derives or settlement sets. */
export type NewBet = Omit<BetRow, 'week' | 'settledAt' | 'settledBy'>;

/**
 * Insert a bet and return it as stored (built here: RETURNING costs more than the insert). `b`
 * itself becomes that row — its week and empty settlement fields are added in place, so pass a
 * fresh object: a copy (spread plus three properties) made ~2 KB of garbage per bet in V8, against
 * ~40 bytes in place, and the writer's GC pauses grew with it.
 */
export function insertBet(db: Db, b: NewBet): BetRow {
  const row = b as BetRow;
  row.week = isoWeek(b.endMs);
  row.settledAt = null;
  row.settledBy = null;
  db.stmt(
    `INSERT INTO bets (id, week, address, quote_id, band_low, band_high, window_start, window_end, stake,
       multiplier_cents, state, payout, reason, placed_at, committed_at, queue_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(row.id, row.week, row.address, row.quoteId, row.lowCents, row.highCents, row.startMs, row.endMs, row.stake, row.multiplierCents, row.state, row.payout, row.reason, row.placedAt, row.committedAt, row.queueId);
  return row;
}

export function betExists(db: Db, id: string): boolean {
  return db.stmt('SELECT 1 FROM bets WHERE id = ?').get(id) !== undefined;
}

export function getBet(db: Db, id: string): BetRow | undefined {
  return db.stmt(`SELECT ${COLUMNS} FROM bets WHERE id = ?`).get(id) as BetRow | undefined;
}

/** A player's bets, newest first, paged by placed_at. */
export function listBets(db: Db, address: string, opts: { limit: number; before?: number }): BetRow[] {
  return db
    .stmt(`SELECT ${COLUMNS} FROM bets WHERE address = ? AND placed_at < ? ORDER BY placed_at DESC LIMIT ?`)
    .all(address, opts.before ?? Number.MAX_SAFE_INTEGER, opts.limit) as BetRow[];
}

/** Open bets whose window ended at or before `endedBy`, oldest window first. */
export function openBetsEndedBy(db: Db, endedBy: number, limit: number): BetRow[] {
  return db.stmt(`SELECT ${COLUMNS} FROM bets WHERE state = 'open' AND window_end <= ? ORDER BY window_end LIMIT ?`).all(endedBy, limit) as BetRow[];
}

/** Move an open bet to its outcome; returns the settled row, or undefined if it was not open. */
export function settleBet(db: Db, id: string, s: { state: 'won' | 'lost' | 'void'; payout: number; reason: string; at: number; by: string }): BetRow | undefined {
  const { changes } = db
    .stmt(`UPDATE bets SET state = ?, payout = ?, reason = ?, settled_at = ?, settled_by = ? WHERE id = ? AND state = 'open'`)
    .run(s.state, s.payout, s.reason, s.at, s.by, id);
  return changes === 1 ? getBet(db, id) : undefined;
}

/** Counts by state (for metrics and the bench report). */
export function betCounts(db: Db): Record<BetState, number> {
  const out: Record<BetState, number> = { open: 0, won: 0, lost: 0, void: 0, rejected: 0 };
  for (const r of db.stmt('SELECT state, COUNT(*) AS n FROM bets GROUP BY state').all() as { state: BetState; n: number }[]) out[r.state] = r.n;
  return out;
}
