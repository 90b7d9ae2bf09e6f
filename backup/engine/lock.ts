/**
 * One backup/restore/prune run at a time per data directory (HOUSE-STYLE 10), shared by the CLI
 * and the scheduler process: the shared file lock (services/shared/file-lock.ts), held across async
 * work and acquired by polling. This file decides where the lock lives, and where scratch files go.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../services/shared/config.js';
import { acquireFileLock, type FileLock } from '../../services/shared/file-lock.js';
import { BackupError } from './errors.js';

export const BACKUP_LOCK_NAME = '.tapstack-backup.lock';

export type BackupLock = FileLock;

/**
 * Take the lock or throw BackupError 'locked' after `waitMs` (0 = try once). The lock file lives in
 * the data directory's parent when the data directory itself is missing (disaster restore).
 */
export async function acquireBackupLock(dataDir: string, opts: { waitMs?: number; what?: string } = {}): Promise<BackupLock> {
  // Never leave files in a directory that is not (yet) an installation: `tapstack setup` would
  // refuse it as "non-empty without a marker".
  const file = lockFile(dataDir);
  const lock = await acquireFileLock(file, { waitMs: opts.waitMs ?? 0 });
  if (!lock) throw new BackupError('locked', `another backup, restore or prune is running on ${dataDir} (lock ${file}); try again when it has finished`, 1);
  return lock;
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
