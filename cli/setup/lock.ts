/**
 * One `tapstack setup` at a time per data volume (HOUSE-STYLE 10). Under compose several
 * containers may run the entrypoint at once against the same volume; two first boots must not each
 * write their own install id or Redis password.
 *
 * Node has no flock(2), so the lock is an exclusive transaction on a tiny SQLite file in the data
 * directory: SQLite's POSIX locks are held by the kernel, work across containers sharing the volume
 * (same kernel) and vanish when the holder dies, so there is no stale lock to clean up.
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

export const LOCK_NAME = '.tapstack-setup.lock';

export function withSetupLock<T>(dataDir: string, fn: () => T, timeoutMs = 120_000): T {
  const db = new BetterSqlite3(path.join(dataDir, LOCK_NAME), { timeout: timeoutMs });
  try {
    // A page must exist for BEGIN EXCLUSIVE to take the file lock; no journal file either.
    db.pragma('journal_mode = MEMORY');
    db.exec('CREATE TABLE IF NOT EXISTS setup_lock (x INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
    try {
      return fn();
    } finally {
      db.exec('COMMIT');
    }
  } finally {
    db.close();
  }
}
