/**
 * The one "one run at a time" lock (HOUSE-STYLE 10), used by `tapstack setup` and by every backup,
 * restore and prune run. Node has no flock(2), so a lock is an exclusive transaction on a tiny
 * SQLite file: SQLite's POSIX locks are held by the kernel, work across containers sharing a volume
 * (same kernel) and vanish when the holder dies (kill -9 included), so there is no stale lock to
 * clean up. (writer-lock.ts is the same idea with a holder row, for the money writer.)
 */
import BetterSqlite3 from 'better-sqlite3';

export interface FileLock {
  readonly file: string;
  release(): void;
}

/** Take the lock on `file` now, or undefined when another process holds it. */
export function tryFileLock(file: string): FileLock | undefined {
  return lockWith(file, 0);
}

/**
 * Take the lock, polling until `waitMs` has passed (0 = try once); undefined if it stayed busy.
 * Polling (busy timeout 0) never blocks the event loop, so it suits locks held across async work.
 */
export async function acquireFileLock(file: string, opts: { waitMs?: number; pollMs?: number } = {}): Promise<FileLock | undefined> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    const lock = tryFileLock(file);
    if (lock || Date.now() >= deadline) return lock;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
}

/** Run synchronous `fn` holding the lock, blocking up to `timeoutMs` for it (setup: nothing else to do meanwhile). */
export function withFileLockSync<T>(file: string, fn: () => T, timeoutMs: number): T {
  const lock = lockWith(file, timeoutMs);
  if (!lock) throw Object.assign(new Error(`the lock ${file} stayed busy for ${Math.round(timeoutMs / 1000)} s`), { code: 'SQLITE_BUSY' });
  try {
    return fn();
  } finally {
    lock.release();
  }
}

function lockWith(file: string, timeoutMs: number): FileLock | undefined {
  const db = new BetterSqlite3(file, { timeout: timeoutMs });
  try {
    // A page must exist for BEGIN EXCLUSIVE to take the file lock; no journal file either.
    db.pragma('journal_mode = MEMORY');
    db.exec('CREATE TABLE IF NOT EXISTS run_lock (x INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return undefined;
    throw err;
  }
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      try {
        db.exec('COMMIT');
      } finally {
        db.close();
      }
    },
  };
}
