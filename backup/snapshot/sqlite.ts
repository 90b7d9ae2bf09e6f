/**
 * A consistent copy of the live SQLite database while the app keeps writing.
 *
 * Default method `backup-api`: SQLite's online backup API, but in ONE step. better-sqlite3 copies
 * 100 pages per step by default and SQLite restarts a backup from page 1 whenever another
 * connection writes between two steps, so under a steady writer a stepped backup may never end
 * (../shared/TOOLING.md). Returning a huge page count from the progress callback makes the second
 * step copy everything at once, inside one read transaction: a consistent snapshot that cannot
 * restart. In WAL mode that read transaction does not block the writer (it only holds back
 * checkpoints meanwhile). Pages are copied 1:1, so unchanged pages stay at the same offsets in
 * the copy and fixed-size chunks of it deduplicate across backups (incrementals upload only the
 * chunks with changed pages).
 *
 * `vacuum-into`: `VACUUM INTO` writes a compacted copy; also one read transaction, but the layout
 * changes with every growth of an earlier table, so incrementals re-upload more. Kept for the bench
 * and for defragmenting copies.
 */
import fs from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { openDb } from '../../services/shared/db/database.js';
import { schemaVersion } from '../../services/shared/db/migrate.js';
import { ledgerHead } from '../../services/shared/repos/ledger.repo.js';

export type SqliteSnapshotMethod = 'backup-api' | 'vacuum-into';

export interface SqliteSnapshot {
  file: string;
  size: number;
  /** When the copied state was current (ms): just after the snapshot's read transaction began. */
  snapshotAt: number;
  /** Wall time of the copy itself (what a reader connection was held for). */
  durationMs: number;
  method: SqliteSnapshotMethod;
  sqliteVersion: string;
  schemaVersion: number;
  ledger: { headSeq: number; headHash: string; rows: number };
  /** Set when the copy could not be read (a damaged database is still backed up, and flagged). */
  problem?: string;
}

/** Copy `srcFile` to `destFile` (must not exist) consistently; then describe the copy. */
export async function snapshotSqlite(srcFile: string, destFile: string, opts: { method?: SqliteSnapshotMethod; now?: () => number } = {}): Promise<SqliteSnapshot> {
  const method = opts.method ?? 'backup-api';
  const now = opts.now ?? Date.now;
  fs.rmSync(destFile, { force: true });
  const src = new BetterSqlite3(srcFile, { fileMustExist: true, timeout: 5000 });
  let snapshotAt = 0;
  const started = performance.now();
  try {
    if (method === 'vacuum-into') {
      snapshotAt = now();
      src.prepare('VACUUM INTO ?').run(destFile);
    } else {
      // Open the read transaction first and note the time: the copy is the state as of then.
      src.exec('BEGIN');
      src.prepare('SELECT count(*) FROM sqlite_master').get();
      snapshotAt = now();
      try {
        await src.backup(destFile, { progress: () => 0x7fffffff });
      } finally {
        src.exec('COMMIT');
      }
    }
  } finally {
    src.close();
  }
  const durationMs = Math.round(performance.now() - started);

  // A self-contained file (rollback journal, no -wal needed to read it); deterministic bytes.
  const dest = new BetterSqlite3(destFile);
  try {
    dest.pragma('journal_mode = DELETE');
  } finally {
    dest.close();
  }
  let info: Pick<SqliteSnapshot, 'sqliteVersion' | 'schemaVersion' | 'ledger' | 'problem'>;
  try {
    info = describeDatabase(destFile);
  } catch (err) {
    // Keep the copy (it may be all there is) but say so: verify and restore will refuse it.
    info = { sqliteVersion: 'unknown', schemaVersion: -1, ledger: { headSeq: -1, headHash: '', rows: -1 }, problem: `the database copy cannot be read: ${(err as Error).message}` };
  }
  return { file: destFile, size: fs.statSync(destFile).size, snapshotAt, durationMs, method, ...info };
}

/** Schema version, ledger head and row count, SQLite version of a database file (read-only). */
export function describeDatabase(file: string): Pick<SqliteSnapshot, 'sqliteVersion' | 'schemaVersion' | 'ledger'> {
  const db = openDb(file, { readonly: true });
  try {
    const version = schemaVersion(db);
    const hasLedger = db.raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").get();
    const head = hasLedger ? ledgerHead(db) : { seq: 0, hash: '0'.repeat(64) };
    const rows = hasLedger ? (db.raw.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n : 0;
    const sqliteVersion = (db.raw.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    return { sqliteVersion, schemaVersion: version, ledger: { headSeq: head.seq, headHash: head.hash, rows } };
  } finally {
    db.close();
  }
}
