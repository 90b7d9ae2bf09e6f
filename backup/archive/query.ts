/**
 * Ledger queries across the archive (issue 14): the live rows plus every archived week that is
 * present locally (the newest N, and any brought back with `tapstack archive fetch`). Weeks that
 * are only in the archive target are named, so a dispute never silently misses history.
 */
import type { Db } from '../../services/shared/db/database.js';
import { isoWeekEnd, isoWeekStart, weekLabel } from '../../services/shared/repos/archive.repo.js';
import { queryLedger, type LedgerEntry, type LedgerFilter } from '../../services/shared/repos/ledger.repo.js';
import { localWeeks } from './local.js';
import { withWeekFile } from './week-file.js';

export interface ArchivedQuery {
  rows: LedgerEntry[];
  /** Archived weeks the filter's time range touches whose file is not local. */
  remoteWeeks: string[];
  /** Local archived weeks that were searched. */
  searchedWeeks: string[];
}

export function queryLedgerWithArchives(db: Db, dir: string, f: LedgerFilter): ArchivedQuery {
  const { local, remoteOnly } = localWeeks(db, dir);
  // The ledger segment of week W holds rows created before W's end, after the previous week's.
  const touches = (week: number) => (f.until === undefined || isoWeekStart(week) - 7 * 86_400_000 < f.until) && (f.since === undefined || isoWeekEnd(week) > f.since);
  const rows: LedgerEntry[] = [];
  const seen = new Set<number>();
  const searchedWeeks: string[] = [];
  for (const { anchor, file } of local) {
    if (rows.length >= f.limit) break;
    if (anchor.lastSeq <= (f.afterSeq ?? 0) || !touches(anchor.week)) continue;
    searchedWeeks.push(weekLabel(anchor.week));
    for (const r of withWeekFile(file, (wk) => queryLedger(wk, { ...f, limit: f.limit - rows.length }))) {
      seen.add(r.seq);
      rows.push(r);
    }
  }
  if (rows.length < f.limit) {
    // A week being deleted has rows in both places: each row once.
    for (const r of queryLedger(db, { ...f, limit: f.limit })) {
      if (rows.length >= f.limit) break;
      if (!seen.has(r.seq)) rows.push(r);
    }
  }
  rows.sort((a, b) => a.seq - b.seq);
  const remoteWeeks = remoteOnly.filter((a) => a.lastSeq > (f.afterSeq ?? 0) && touches(a.week)).map((a) => weekLabel(a.week));
  return { rows, remoteWeeks, searchedWeeks };
}
