/**
 * One backup/restore/prune run at a time per data directory (HOUSE-STYLE 10), shared by the CLI
 * and the scheduler process. Like cli/setup/lock.ts, the lock is an exclusive transaction on a tiny
 * SQLite file: the kernel holds the POSIX lock and drops it when the holder dies (kill -9
 * included), so a stale lock never blocks the next run. Unlike setup's, it is held across async
 * work and acquired by polling (busy timeout 0), so waiting never blocks the event loop.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Config } from '../../services/shared/config.js';
import { BackupError } from './errors.js';

export const BACKUP_LOCK_NAME = '.tapstack-backup.lock';

export interface BackupLock {
  readonly file: string;
  release(): void;
}

/**
 * Take the lock or throw BackupError 'locked' after `waitMs` (0 = try once). The lock file lives in
 * the data directory's parent when the data directory itself is missing (disaster restore).
 */
export async function acquireBackupLock(dataDir: string, opts: { waitMs?: number; what?: string } = {}): Promise<BackupLock> {
  // Never leave files in a directory that is not (yet) an installation: `tapstack setup` would
  // refuse it as "non-empty without a marker".
  const file = lockFile(dataDir);
  const deadline = Date.now() + (opts.waitMs ?? 0);
  const db = new BetterSqlite3(file, { timeout: 0 });
  try {
    db.pragma('journal_mode = MEMORY');
    for (;;) {
      try {
        db.exec('CREATE TABLE IF NOT EXISTS backup_lock (x INTEGER)');
        db.exec('BEGIN EXCLUSIVE');
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        if (Date.now() >= deadline) {
          throw new BackupError('locked', `another backup, restore or prune is running on ${dataDir} (lock ${file}); try again when it has finished`, 1);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } catch (err) {
    db.close();
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

function lockFile(dataDir: string): string {
  if (isInstallation(dataDir)) return path.join(dataDir, BACKUP_LOCK_NAME);
  const parent = path.dirname(dataDir);
  try {
    fs.accessSync(parent, fs.constants.W_OK);
    return path.join(parent, `.${path.basename(dataDir)}${BACKUP_LOCK_NAME}`);
  } catch {
    // A volume mounted at /data: its parent is not ours. One lock per data dir path, per machine.
    return path.join(os.tmpdir(), `tapstack-backup-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}.lock`);
  }
}

/** The data directory holds an installation (its marker or its database). */
export function isInstallation(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, '.tapstack-volume.json')) || fs.existsSync(path.join(dataDir, 'tapstack.db'));
}

/**
 * Where a run may put temporary files: the staging directory, unless it lies inside a data
 * directory that is not an installation (verify or list from a fresh host), then the OS temp dir.
 */
export function scratchDir(config: Config): string {
  const inData = config.backup.stagingDir.startsWith(config.dataDir + path.sep);
  return !inData || isInstallation(config.dataDir) ? config.backup.stagingDir : path.join(os.tmpdir(), `tapstack-backup-${process.getuid?.() ?? 'user'}`);
}

/** Run `fn` holding the lock; released however `fn` ends. */
export async function withBackupLock<T>(dataDir: string, fn: () => Promise<T>, opts: { waitMs?: number } = {}): Promise<T> {
  const lock = await acquireBackupLock(dataDir, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
