/**
 * Weekly archival's SQL on the primary file (issue 14): which week is next, the archiver's journal
 * (`archive_runs`), ledger anchors, the carried-forward sums and the batched deletion of archived
 * rows. Written by the archiver only; read by the integrity check and the admin CLI.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.js';
import { GENESIS_HASH } from '../ledger-hash.js';

const DAY = 86_400_000;

/** Monday 00:00 UTC of an ISO week given as year * 100 + week (the inverse of isoWeek). */
export function isoWeekStart(week: number): number {
  const year = Math.floor(week / 100);
  const jan4 = Date.UTC(year, 0, 4);
  const monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY;
  return monday + ((week % 100) - 1) * 7 * DAY;
}

export const isoWeekEnd = (week: number): number => isoWeekStart(week) + 7 * DAY;

/** 202647 → `2026-W47`; the week file is `bets-2026-W47.db`. */
export const weekLabel = (week: number): string => `${Math.floor(week / 100)}-W${String(week % 100).padStart(2, '0')}`;

/** The week file of an archived week (in TAPSTACK_ARCHIVE_DIR). */
export const weekFileName = (week: number): string => `bets-${weekLabel(week)}.db`;

export function parseWeekLabel(text: string): number | undefined {
  const m = /^(\d{4})-?W(\d{2})$/i.exec(text.trim());
  if (!m) return undefined;
  const w = Number(m[1]) * 100 + Number(m[2]);
  return Number(m[2]) >= 1 && Number(m[2]) <= 53 ? w : undefined;
}

export interface Anchor {
  week: number;
  firstSeq: number;
  lastSeq: number;
  hashIn: string;
  lastHash: string;
  rowCount: number;
  betCount: number;
  carriedDigest: string;
  plainSha256: string;
  archiveSha256: string;
  archiveBytes: number;
  archiveKey: string;
  createdAt: number;
  prevAnchorHash: string;
  anchorHash: string;
}

const ANCHOR_COLUMNS = `week, first_seq AS firstSeq, last_seq AS lastSeq, hash_in AS hashIn, last_hash AS lastHash,
  row_count AS rowCount, bet_count AS betCount, carried_digest AS carriedDigest, plain_sha256 AS plainSha256,
  archive_sha256 AS archiveSha256, archive_bytes AS archiveBytes, archive_key AS archiveKey, created_at AS createdAt,
  prev_anchor_hash AS prevAnchorHash, anchor_hash AS anchorHash`;

/** sha256 over a JSON array of every anchor field but its own hash (like ledgerRowHash). */
export function anchorHash(a: Omit<Anchor, 'anchorHash'>): string {
  const f = [a.week, a.firstSeq, a.lastSeq, a.hashIn, a.lastHash, a.rowCount, a.betCount, a.carriedDigest, a.plainSha256, a.archiveSha256, a.archiveBytes, a.archiveKey, a.createdAt, a.prevAnchorHash];
  return createHash('sha256').update(JSON.stringify(f)).digest('hex');
}

export function listAnchors(db: Db): Anchor[] {
  return db.stmt(`SELECT ${ANCHOR_COLUMNS} FROM ledger_anchors ORDER BY week`).all() as Anchor[];
}

export function newestAnchor(db: Db): Anchor | undefined {
  return db.stmt(`SELECT ${ANCHOR_COLUMNS} FROM ledger_anchors ORDER BY week DESC LIMIT 1`).get() as Anchor | undefined;
}

/** Append an anchor (the table's trigger refuses one that does not extend the anchor chain). */
export function insertAnchor(db: Db, a: Omit<Anchor, 'prevAnchorHash' | 'anchorHash'>): Anchor {
  const prevAnchorHash = newestAnchor(db)?.anchorHash ?? GENESIS_HASH;
  const full = { ...a, prevAnchorHash, anchorHash: anchorHash({ ...a, prevAnchorHash }) };
  db.stmt(
    `INSERT INTO ledger_anchors (week, first_seq, last_seq, hash_in, last_hash, row_count, bet_count, carried_digest, plain_sha256,
       archive_sha256, archive_bytes, archive_key, created_at, prev_anchor_hash, anchor_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(full.week, full.firstSeq, full.lastSeq, full.hashIn, full.lastHash, full.rowCount, full.betCount, full.carriedDigest, full.plainSha256, full.archiveSha256, full.archiveBytes, full.archiveKey, full.createdAt, full.prevAnchorHash, full.anchorHash);
  return full;
}

export interface AccountSum {
  address: string;
  amount: number;
  rowCount: number;
}

/** Per-account sums carried forward from archived rows, by address. */
export function carriedSums(db: Db): AccountSum[] {
  return db.stmt('SELECT address, amount, row_count AS rowCount FROM ledger_carried ORDER BY address').all() as AccountSum[];
}

/** Per-account sums of the live ledger rows in a seq range. */
export function segmentSums(db: Db, firstSeq: number, lastSeq: number): AccountSum[] {
  return db
    .stmt('SELECT address, SUM(amount) AS amount, COUNT(*) AS rowCount FROM ledger WHERE seq BETWEEN ? AND ? GROUP BY address ORDER BY address')
    .all(firstSeq, lastSeq) as AccountSum[];
}

/** Add `b` into `a` (both sorted by address); the result is sorted by address. */
export function addSums(a: readonly AccountSum[], b: readonly AccountSum[]): AccountSum[] {
  const m = new Map<string, AccountSum>();
  for (const s of [...a, ...b]) {
    const cur = m.get(s.address);
    m.set(s.address, cur ? { address: s.address, amount: cur.amount + s.amount, rowCount: cur.rowCount + s.rowCount } : { ...s });
  }
  return [...m.values()].sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0));
}

/** sha256 over the sorted per-account sums: what an anchor seals. */
export function sumsDigest(sums: readonly AccountSum[]): string {
  const h = createHash('sha256');
  for (const s of sums) h.update(`${s.address}\t${s.amount}\t${s.rowCount}\n`);
  return h.digest('hex');
}

export function prunedThrough(db: Db): { seq: number; hash: string } | undefined {
  return db.stmt('SELECT through_seq AS seq, through_hash AS hash FROM ledger_pruned WHERE id = 1').get() as { seq: number; hash: string } | undefined;
}

/**
 * Delete the next batch of archived ledger rows (seq up to `upTo`, at most `limit`), carrying
 * their sums forward. Must run inside `db.write()`; returns the rows deleted.
 */
export function pruneLedgerBatch(db: Db, upTo: number, limit: number): number {
  const from = prunedThrough(db)?.seq ?? 0;
  const to = Math.min(upTo, from + limit);
  if (to <= from) return 0;
  const last = db.stmt('SELECT hash FROM ledger WHERE seq = ?').get(to) as { hash: string } | undefined;
  if (!last) throw new Error(`ledger row ${to} is not in the live file: cannot prune through it`);
  for (const s of segmentSums(db, from + 1, to)) {
    db.stmt(
      `INSERT INTO ledger_carried (address, amount, row_count) VALUES (?, ?, ?)
       ON CONFLICT (address) DO UPDATE SET amount = amount + excluded.amount, row_count = row_count + excluded.row_count`,
    ).run(s.address, s.amount, s.rowCount);
  }
  const n = db.stmt('DELETE FROM ledger WHERE seq > ? AND seq <= ?').run(from, to).changes;
  db.stmt('INSERT INTO ledger_pruned (id, through_seq, through_hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET through_seq = excluded.through_seq, through_hash = excluded.through_hash').run(to, last.hash);
  return n;
}

/** Delete up to `limit` settled bets of an archived week; returns how many went. */
export function deleteArchivedBets(db: Db, week: number, limit: number): number {
  return db.stmt("DELETE FROM bets WHERE rowid IN (SELECT rowid FROM bets WHERE week = ? AND state <> 'open' LIMIT ?)").run(week, limit).changes;
}

// ------------------------------------------------------------------ choosing the next week

/** The oldest week that still has rows in this file and is not anchored yet (undefined: none). */
export function nextWeekToArchive(db: Db, isoWeekOf: (ms: number) => number): number | undefined {
  const anchoredThrough = newestAnchor(db)?.lastSeq ?? 0;
  const lastAnchoredWeek = newestAnchor(db)?.week ?? 0;
  const bet = db.stmt('SELECT MIN(week) AS w FROM bets WHERE week > ?').get(lastAnchoredWeek) as { w: number | null };
  const row = db.stmt('SELECT created_at AS t FROM ledger WHERE seq > ? ORDER BY seq LIMIT 1').get(anchoredThrough) as { t: number } | undefined;
  const weeks = [bet.w ?? undefined, row ? Math.max(isoWeekOf(row.t), lastAnchoredWeek + 1) : undefined].filter((w): w is number => w !== undefined);
  return weeks.length ? Math.min(...weeks) : undefined;
}

/** Open (unsettled) bets in this week or before: they keep the week local. */
export function openBetsThrough(db: Db, week: number): number {
  return (db.stmt("SELECT COUNT(*) AS n FROM bets WHERE week <= ? AND state = 'open'").get(week) as { n: number }).n;
}

/** The ledger segment of a week: rows after the newest anchor, created before the week's end. */
export function weekSegment(db: Db, week: number): { firstSeq: number; lastSeq: number; hashIn: string } {
  const prev = newestAnchor(db);
  const firstSeq = (prev?.lastSeq ?? 0) + 1;
  const r = db.stmt('SELECT MAX(seq) AS s FROM ledger WHERE created_at < ?').get(isoWeekEnd(week)) as { s: number | null };
  return { firstSeq, lastSeq: Math.max(firstSeq - 1, r.s ?? 0), hashIn: prev?.lastHash ?? GENESIS_HASH };
}

export function settledBetCount(db: Db, week: number): number {
  return (db.stmt("SELECT COUNT(*) AS n FROM bets WHERE week = ? AND state <> 'open'").get(week) as { n: number }).n;
}

export function liveLedgerRow(db: Db, seq: number): { seq: number; hash: string } | undefined {
  return db.stmt('SELECT seq, hash FROM ledger WHERE seq = ?').get(seq) as { seq: number; hash: string } | undefined;
}

// ------------------------------------------------------------------ the archiver's journal

export type ArchiveStep = 'planned' | 'written' | 'uploaded' | 'verified' | 'anchored' | 'deleted' | 'done';
export const ARCHIVE_STEPS: readonly ArchiveStep[] = ['planned', 'written', 'uploaded', 'verified', 'anchored', 'deleted', 'done'];

export interface ArchiveRun {
  week: number;
  step: ArchiveStep;
  firstSeq: number;
  lastSeq: number;
  rowCount: number;
  betCount: number;
  plainSha256: string | null;
  plainBytes: number | null;
  archiveKey: string | null;
  archiveSha256: string | null;
  archiveBytes: number | null;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | null;
  error: string | null;
}

const RUN_COLUMNS = `week, step, first_seq AS firstSeq, last_seq AS lastSeq, row_count AS rowCount, bet_count AS betCount,
  plain_sha256 AS plainSha256, plain_bytes AS plainBytes, archive_key AS archiveKey, archive_sha256 AS archiveSha256,
  archive_bytes AS archiveBytes, started_at AS startedAt, updated_at AS updatedAt, finished_at AS finishedAt, error`;

export function archiveRuns(db: Db): ArchiveRun[] {
  return db.stmt(`SELECT ${RUN_COLUMNS} FROM archive_runs ORDER BY week`).all() as ArchiveRun[];
}

export function archiveRun(db: Db, week: number): ArchiveRun | undefined {
  return db.stmt(`SELECT ${RUN_COLUMNS} FROM archive_runs WHERE week = ?`).get(week) as ArchiveRun | undefined;
}

export function planRun(db: Db, r: { week: number; firstSeq: number; lastSeq: number; betCount: number; now: number }): void {
  db.stmt(
    `INSERT INTO archive_runs (week, step, first_seq, last_seq, row_count, bet_count, started_at, updated_at) VALUES (?, 'planned', ?, ?, ?, ?, ?, ?)
     ON CONFLICT (week) DO UPDATE SET step = 'planned', first_seq = excluded.first_seq, last_seq = excluded.last_seq,
       row_count = excluded.row_count, bet_count = excluded.bet_count, updated_at = excluded.updated_at, error = NULL`,
  ).run(r.week, r.firstSeq, r.lastSeq, r.lastSeq - r.firstSeq + 1, r.betCount, r.now, r.now);
}

type RunFields = Partial<Pick<ArchiveRun, 'plainSha256' | 'plainBytes' | 'archiveKey' | 'archiveSha256' | 'archiveBytes' | 'finishedAt' | 'error'>>;
const FIELD_COLUMNS: Record<keyof RunFields, string> = {
  plainSha256: 'plain_sha256',
  plainBytes: 'plain_bytes',
  archiveKey: 'archive_key',
  archiveSha256: 'archive_sha256',
  archiveBytes: 'archive_bytes',
  finishedAt: 'finished_at',
  error: 'error',
};

/** Record that a step completed (and the facts it established). */
export function recordStep(db: Db, week: number, step: ArchiveStep, now: number, fields: RunFields = {}): void {
  const keys = Object.keys(fields) as (keyof RunFields)[];
  const sets = ['step = ?', 'updated_at = ?', 'error = NULL', ...keys.map((k) => `${FIELD_COLUMNS[k]} = ?`)];
  db.raw.prepare(`UPDATE archive_runs SET ${sets.join(', ')} WHERE week = ?`).run(step, now, ...keys.map((k) => fields[k] ?? null), week);
}

export function recordRunError(db: Db, week: number, message: string, now: number): void {
  db.stmt('UPDATE archive_runs SET error = ?, updated_at = ? WHERE week = ?').run(message, now, week);
}

/** Unix ms of the newest completed week (the dead man's switch), or undefined. */
export function lastArchiveSuccess(db: Db): number | undefined {
  const r = db.stmt("SELECT MAX(finished_at) AS t FROM archive_runs WHERE step = 'done'").get() as { t: number | null };
  return r.t ?? undefined;
}

/** When the oldest row still in the live ledger was written (undefined: none). */
export function oldestLiveLedgerTime(db: Db): number | undefined {
  return (db.stmt('SELECT created_at AS t FROM ledger ORDER BY seq LIMIT 1').get() as { t: number } | undefined)?.t;
}

/** Totals over completed weeks, for metrics. */
export function archivedTotals(db: Db): { weeks: number; rows: number; bets: number; bytes: number } {
  return db
    .stmt("SELECT COUNT(*) AS weeks, COALESCE(SUM(row_count), 0) AS rows, COALESCE(SUM(bet_count), 0) AS bets, COALESCE(SUM(archive_bytes), 0) AS bytes FROM archive_runs WHERE step = 'done'")
    .get() as { weeks: number; rows: number; bets: number; bytes: number };
}
