/**
 * Build and check a week file (services/shared/repos/week-file.repo.ts has its SQL). The file is
 * built under a temp name, checked, fsynced and renamed: a file named `bets-YYYY-Www.db` is
 * always complete. The check proves what the anchor will seal: the bet and row counts, the sums,
 * and the hash chain segment from `hashIn` to `lastHash`, with every balance_after following on
 * from the account sums before the week (`opening`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { openDb, type Db } from '../../services/shared/db/database.js';
import { walkChain, type Problem } from '../../services/shared/integrity.js';
import { iterateLedger } from '../../services/shared/repos/ledger.repo.js';
import { weekFileName, weekLabel, type AccountSum } from '../../services/shared/repos/archive.repo.js';
import { copyWeek, readWeekMeta, WEEK_FILE_FORMAT, weekAccountSums, weekBetTotals, type WeekMeta } from '../../services/shared/repos/week-file.repo.js';
import { commitFile, removeIfExists } from './files.js';

export { weekFileName };
export const weekObjectKey = (week: number) => `archive/${weekFileName(week)}.zst.age`;

export interface WeekSpec {
  week: number;
  firstSeq: number;
  lastSeq: number;
  hashIn: string;
  betCount: number;
}

export class ArchiveError extends Error {
  constructor(readonly code: string, message: string, readonly problems: Problem[] = []) {
    super(message);
  }
}

/** Copy the week out of the primary file into `dir/bets-YYYY-Www.db`, check it, commit it. */
export function buildWeekFile(db: Db, dir: string, w: WeekSpec, opening: readonly AccountSum[], now: number): { file: string; meta: WeekMeta } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, weekFileName(w.week));
  const tmp = `${file}.tmp`;
  removeIfExists(tmp);
  removeIfExists(`${tmp}-journal`);
  try {
    // An empty file is an empty database; ATTACH cannot create one on a connection opened
    // without SQLITE_OPEN_CREATE (the admin CLI opens the primary file that way).
    fs.writeFileSync(tmp, '', { mode: 0o600 });
    copyWeek(db, tmp, { ...w, now });
    const problems = checkWeekFile(tmp, w, opening);
    if (problems.length) throw new ArchiveError('week-check-failed', `week ${weekLabel(w.week)}: the copy does not match the primary file (${problems[0]?.message})`, problems);
    removeIfExists(file);
    commitFile(tmp, file);
    return { file, meta: withWeekFile(file, readWeekMeta) };
  } catch (err) {
    removeIfExists(tmp);
    throw err;
  }
}

export function withWeekFile<T>(file: string, fn: (db: Db) => T): T {
  const db = openDb(file, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * Every problem of a week file against what it must hold. Used after the copy, on a fetched
 * archive, and by `integrity check --archives`.
 */
export function checkWeekFile(file: string, w: WeekSpec, opening: readonly AccountSum[], expectLastHash?: string): Problem[] {
  return withWeekFile(file, (wk) => {
    const problems: Problem[] = [];
    const report = (p: Problem) => void (problems.length < 100 && problems.push(p));
    const meta = readWeekMeta(wk);
    const label = weekLabel(w.week);
    const expect = (what: string, expected: string | number, actual: string | number) => {
      if (expected !== actual) report({ type: 'archive-mismatch', expected, actual, message: `week ${label}: ${what} is ${actual}, expected ${expected}` });
    };
    expect('format', WEEK_FILE_FORMAT, meta.format);
    expect('week', w.week, meta.week);
    expect('first seq', w.firstSeq, meta.firstSeq);
    expect('last seq', w.lastSeq, meta.lastSeq);
    expect('hash in', w.hashIn, meta.hashIn);
    expect('row count', w.lastSeq - w.firstSeq + 1, meta.rowCount);
    expect('bet count', w.betCount, meta.betCount);
    const bets = weekBetTotals(wk);
    expect('bets stored', meta.betCount, bets.n);
    expect('stake sum', meta.stakeSum, bets.stake);
    expect('payout sum', meta.payoutSum, bets.payout);
    expect('open bets', 0, bets.open);
    const running = new Map(opening.map((s) => [s.address, s.amount]));
    const end = walkChain(iterateLedger(wk), { seq: w.firstSeq - 1, hash: w.hashIn }, running, report);
    expect('rows stored', meta.rowCount, end.rows);
    expect('last hash', expectLastHash ?? meta.lastHash, end.hash);
    const before = new Map(opening.map((s) => [s.address, s.amount]));
    for (const s of weekAccountSums(wk)) {
      expect(`sum of ${s.address}`, (running.get(s.address) ?? 0) - (before.get(s.address) ?? 0), s.amount);
    }
    return problems;
  });
}
