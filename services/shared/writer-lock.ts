/**
 * The writer's lock: whoever holds it is the one process allowed to move money in SQLite. The
 * writer takes it at start and holds it for its whole life; the admin CLI, when it finds the lock
 * free (no writer running), takes it for the one movement it commits itself, so the two never
 * commit at once. It is an OS file lock (SQLite's EXCLUSIVE lock on a small file of its own,
 * `writer.lock` in the data directory), so the kernel releases it when the holder dies, even by
 * kill -9: there is no stale lock to clean up.
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

export interface WriterLock {
  release(): void;
}

export const writerLockFile = (dataDir: string) => path.join(dataDir, 'writer.lock');

/** Take the lock if it is free; undefined if another process holds it. */
export function tryWriterLock(dataDir: string): WriterLock | undefined {
  const db = new BetterSqlite3(writerLockFile(dataDir));
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER, since INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY' || (err as { code?: string }).code === 'SQLITE_LOCKED') return undefined;
    throw err;
  }
  db.prepare('DELETE FROM holder').run();
  db.prepare('INSERT INTO holder VALUES (?, ?)').run(process.pid, Date.now());
  return {
    release() {
      if (!db.open) return;
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}

/** Wait for the lock (polling), e.g. the writer starting while an admin command holds it. */
export async function takeWriterLock(dataDir: string, opts: { signal?: AbortSignal; onWait?: () => void } = {}): Promise<WriterLock> {
  let waited = false;
  for (;;) {
    const lock = tryWriterLock(dataDir);
    if (lock) return lock;
    if (!waited) opts.onWait?.();
    waited = true;
    if (opts.signal?.aborted) throw new Error('gave up waiting for the writer lock');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether some process (a running writer) holds the lock right now. */
export function writerLockHeld(dataDir: string): boolean {
  const lock = tryWriterLock(dataDir);
  lock?.release();
  return lock === undefined;
}
