/**
 * The week file (`bets-YYYY-Www.db`, issue 14): one closed ISO week's settled bets and its ledger
 * segment in a SQLite file of its own, queryable with the same repos as the primary file (same
 * table and column names: `queryLedger`, `getBet`, `listBets` work on it), plus `archive_meta`
 * (what the week holds and the hashes it links) and `account_sums` (per-account sums of the
 * segment). Tables are created from the primary's own definition (`CREATE TABLE … AS SELECT`),
 * so a column a later migration adds to bets or ledger is archived without touching this file.
 */
import type { Db } from '../db/database.js';
import type { AccountSum } from './archive.repo.js';

export const WEEK_FILE_FORMAT = 'tapstack-week/1';

export interface WeekMeta {
  format: string;
  week: number;
  firstSeq: number;
  lastSeq: number;
  hashIn: string;
  lastHash: string;
  rowCount: number;
  betCount: number;
  stakeSum: number;
  payoutSum: number;
  createdAt: number;
}

/**
 * Copy a week into the (new, empty) file `file`, attached to the primary connection `db` as
 * `wk`, in one deferred transaction: the reads see one snapshot of the primary and take no write
 * lock on it (the writer is never blocked), the writes go to the week file only.
 */
export function copyWeek(db: Db, file: string, w: { week: number; firstSeq: number; lastSeq: number; hashIn: string; now: number }): WeekMeta {
  db.raw.prepare('ATTACH DATABASE ? AS wk').run(file);
  try {
    return db.raw.transaction(() => {
      db.raw.exec(`CREATE TABLE wk.archive_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
        CREATE TABLE wk.bets AS SELECT * FROM main.bets WHERE 0;
        CREATE TABLE wk.ledger AS SELECT * FROM main.ledger WHERE 0;
        CREATE TABLE wk.account_sums (address TEXT PRIMARY KEY, amount INTEGER NOT NULL, row_count INTEGER NOT NULL) STRICT;`);
      db.raw.prepare("INSERT INTO wk.bets SELECT * FROM main.bets WHERE week = ? AND state <> 'open' ORDER BY rowid").run(w.week);
      db.raw.prepare('INSERT INTO wk.ledger SELECT * FROM main.ledger WHERE seq BETWEEN ? AND ? ORDER BY seq').run(w.firstSeq, w.lastSeq);
      db.raw.prepare('INSERT INTO wk.account_sums SELECT address, SUM(amount), COUNT(*) FROM wk.ledger GROUP BY address').run();
      db.raw.exec(`CREATE UNIQUE INDEX wk.week_bets_id ON bets (id);
        CREATE INDEX wk.week_bets_address_placed ON bets (address, placed_at);
        CREATE UNIQUE INDEX wk.week_ledger_seq ON ledger (seq);
        CREATE UNIQUE INDEX wk.week_ledger_ref ON ledger (ref);
        CREATE INDEX wk.week_ledger_address_seq ON ledger (address, seq);
        CREATE INDEX wk.week_ledger_created_at ON ledger (created_at);`);
      const b = db.raw.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(stake), 0) AS stake, COALESCE(SUM(payout), 0) AS payout FROM wk.bets').get() as { n: number; stake: number; payout: number };
      const l = db.raw.prepare('SELECT COUNT(*) AS n, (SELECT hash FROM wk.ledger ORDER BY seq DESC LIMIT 1) AS last FROM wk.ledger').get() as { n: number; last: string | null };
      const meta: WeekMeta = {
        format: WEEK_FILE_FORMAT,
        week: w.week,
        firstSeq: w.firstSeq,
        lastSeq: w.lastSeq,
        hashIn: w.hashIn,
        lastHash: l.last ?? w.hashIn,
        rowCount: l.n,
        betCount: b.n,
        stakeSum: b.stake,
        payoutSum: b.payout,
        createdAt: w.now,
      };
      const put = db.raw.prepare('INSERT INTO wk.archive_meta (key, value) VALUES (?, ?)');
      for (const [k, v] of Object.entries(meta)) put.run(k, String(v));
      return meta;
    })();
  } finally {
    db.raw.exec('DETACH DATABASE wk');
  }
}

export function readWeekMeta(db: Db): WeekMeta {
  const rows = db.raw.prepare('SELECT key, value FROM archive_meta').all() as { key: string; value: string }[];
  const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
  const num = (k: string) => Number(m[k]);
  return {
    format: m.format ?? '',
    week: num('week'),
    firstSeq: num('firstSeq'),
    lastSeq: num('lastSeq'),
    hashIn: m.hashIn ?? '',
    lastHash: m.lastHash ?? '',
    rowCount: num('rowCount'),
    betCount: num('betCount'),
    stakeSum: num('stakeSum'),
    payoutSum: num('payoutSum'),
    createdAt: num('createdAt'),
  };
}

export function weekAccountSums(db: Db): AccountSum[] {
  return db.raw.prepare('SELECT address, amount, row_count AS rowCount FROM account_sums ORDER BY address').all() as AccountSum[];
}

/** What the week's bets add up to (compared with the copy's meta). */
export function weekBetTotals(db: Db): { n: number; stake: number; payout: number; open: number } {
  return db.raw
    .prepare("SELECT COUNT(*) AS n, COALESCE(SUM(stake), 0) AS stake, COALESCE(SUM(payout), 0) AS payout, COALESCE(SUM(state = 'open'), 0) AS open FROM bets")
    .get() as { n: number; stake: number; payout: number; open: number };
}

/** The primary's settled bets of a week, summed the same way (same snapshot as the copy or not). */
export function primaryWeekBetTotals(db: Db, week: number): { n: number; stake: number; payout: number } {
  return db.stmt("SELECT COUNT(*) AS n, COALESCE(SUM(stake), 0) AS stake, COALESCE(SUM(payout), 0) AS payout FROM bets WHERE week = ? AND state <> 'open'").get(week) as {
    n: number;
    stake: number;
    payout: number;
  };
}
