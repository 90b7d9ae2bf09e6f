/**
 * The writer's lock: whoever holds it is the one process allowed to move money in SQLite. The
 * writer takes it at start and holds it for its whole life; the admin CLI, when it finds the lock
 * free (no writer running), takes it for the one movement it commits itself, so the two never
 * commit at once. It is an OS file lock (SQLite's EXCLUSIVE lock on a small file of its own,
 * `writer.lock` in the data directory), so the kernel releases it when the holder dies, even by
 * kill -9: there is no stale lock to clean up.
 *
 * Admin commands first queue on a second lock (`admin.lock`, waited for), so while one of them
 * tries the writer's lock no other admin command can hold it: a busy writer lock then means a
 * running writer, never a concurrent admin command.
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

export interface WriterLock {
  release(): void;
}

export const writerLockFile = (dataDir: string) => path.join(dataDir, 'writer.lock');
const adminLockFile = (dataDir: string) => path.join(dataDir, 'admin.lock');

/** Take the writer's lock if it is free; undefined if another process holds it. */
export const tryWriterLock = (dataDir: string): WriterLock | undefined => tryFileLock(writerLockFile(dataDir));

/** Admin commands one at a time (see above): wait for the admin lock. */
export const takeAdminLock = (dataDir: string, opts: { signal?: AbortSignal } = {}): Promise<WriterLock> => waitForLock(() => tryFileLock(adminLockFile(dataDir)), opts);

/** An OS file lock on `file` (see above); undefined if another process holds it. */
export function tryFileLock(file: string): WriterLock | undefined {
  const db = new BetterSqlite3(file);
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
export const takeWriterLock = (dataDir: string, opts: { signal?: AbortSignal; onWait?: () => void } = {}): Promise<WriterLock> => waitForLock(() => tryWriterLock(dataDir), opts);

async function waitForLock(tryLock: () => WriterLock | undefined, opts: { signal?: AbortSignal; onWait?: () => void }): Promise<WriterLock> {
  let waited = false;
  for (;;) {
    const lock = tryLock();
    if (lock) return lock;
    if (!waited) opts.onWait?.();
    waited = true;
    if (opts.signal?.aborted) throw new Error('gave up waiting for the lock');
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
  }
}

/** Whether some process (a running writer) holds the lock right now. */
export function writerLockHeld(dataDir: string): boolean {
  const lock = tryWriterLock(dataDir);
  lock?.release();
  return lock === undefined;
}
