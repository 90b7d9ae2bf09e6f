/**
 * The data-volume write probe of `tapstack setup`. The crash-safe write itself is the shared one
 * (services/shared/atomic-file.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, writeFileAtomic } from '../../services/shared/atomic-file.js';

/** Files the probe leaves behind only if it is killed mid-way; ignored when judging "empty". */
export const PROBE_PREFIX = '.tapstack-probe-';

/**
 * Prove `dir` takes durable writes the way the services will use it: create, write, fsync,
 * rename, fsync the directory, remove. Throws the underlying errno error (EROFS, EACCES, ENOSPC…).
 */
export function probeWritable(dir: string): void {
  const name = path.join(dir, `${PROBE_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeFileAtomic(name, 'tapstack write probe\n');
  } finally {
    fs.rmSync(name, { force: true });
  }
  fsyncDir(dir);
}

/**
 * Whether `dir` takes writes: the probe if it exists, else write access to the nearest existing
 * ancestor (where it will be created). Returns the error instead of throwing it.
 */
export function writeProblem(dir: string): NodeJS.ErrnoException | undefined {
  try {
    if (fs.existsSync(dir)) {
      probeWritable(dir);
      return undefined;
    }
    let parent = path.dirname(dir);
    while (!fs.existsSync(parent)) parent = path.dirname(parent);
    fs.accessSync(parent, fs.constants.W_OK);
    return undefined;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}
