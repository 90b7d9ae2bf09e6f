/**
 * A player's history across archived weeks (issue 14), for the API: archived weeks kept locally
 * (TAPSTACK_ARCHIVE_DIR, read-only SQLite week files) are read with the same repo as the primary
 * file, and `archivedHistory` says where the local history ends, so a client can tell "archived,
 * ask the operator" from "never happened".
 */
import fs from 'node:fs';
import path from 'node:path';
import { openDb, type Db } from './db/database.js';
import { isoWeekEnd, listAnchors, weekFileName } from './repos/archive.repo.js';
import { getBet, listBets, type BetRow } from './repos/bets.repo.js';

export interface ArchivedHistory {
  /** Bets whose window ended before this were moved out of the primary file (null: none). */
  archivedBefore: string | null;
  /** History before this is only in the archive target (older than the local weeks; null: all local). */
  remoteBefore: string | null;
}

export function archivedHistory(db: Db, dir: string): ArchivedHistory {
  const anchors = listAnchors(db);
  const newest = anchors.at(-1);
  const missing = anchors.filter((a) => !fs.existsSync(path.join(dir, weekFileName(a.week)))).at(-1);
  return {
    archivedBefore: newest ? new Date(isoWeekEnd(newest.week)).toISOString() : null,
    remoteBefore: missing ? new Date(isoWeekEnd(missing.week)).toISOString() : null,
  };
}

/** `listBets` (newest first, paged by placed_at) over the primary file, then the local week files. */
export function listBetsAcrossArchives(db: Db, dir: string, address: string, opts: { limit: number; before?: number }): BetRow[] {
  const out = listBets(db, address, opts);
  for (const a of listAnchors(db).reverse()) {
    if (out.length >= opts.limit) break;
    const file = path.join(dir, weekFileName(a.week));
    if (!fs.existsSync(file)) break; // older weeks are remote only: archivedHistory says so
    const wk = openDb(file, { readonly: true });
    try {
      out.push(...listBets(wk, address, { limit: opts.limit - out.length, ...(opts.before !== undefined ? { before: opts.before } : {}) }));
    } finally {
      wk.close();
    }
  }
  return out;
}

/** When a bet id (`b<base36 ms>…`, newBetId) says it was placed; undefined for another shape. */
function placedAtOf(id: string): number | undefined {
  const m = /^b([0-9a-z]+?)[0-9a-f]{16}$/.exec(id);
  const ms = m ? parseInt(m[1] as string, 36) : Number.NaN;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * A bet that left the primary file: read from a local week file, or `remote` when it can only be
 * in a week kept in the archive target alone (placed before the newest such week ended), else
 * undefined (no such bet). Only called for ids the primary file and Redis do not know.
 */
export function findArchivedBet(db: Db, dir: string, id: string): BetRow | 'remote' | undefined {
  const anchors = listAnchors(db).reverse();
  let remoteUntil = 0;
  for (const a of anchors) {
    const file = path.join(dir, weekFileName(a.week));
    if (!fs.existsSync(file)) {
      remoteUntil = Math.max(remoteUntil, isoWeekEnd(a.week));
      continue;
    }
    const wk = openDb(file, { readonly: true });
    try {
      const row = getBet(wk, id);
      if (row) return row;
    } finally {
      wk.close();
    }
  }
  if (remoteUntil === 0) return undefined;
  // An id that names its time is archived only if placed before the newest remote week ended;
  // any other id may be in a remote week.
  const placedAt = placedAtOf(id);
  return placedAt === undefined || placedAt < remoteUntil ? 'remote' : undefined;
}
