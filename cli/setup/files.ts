/**
 * Crash-safe file writes (HOUSE-STYLE 10): write `name.tmp`, fsync, rename over the target, fsync
 * the directory; on failure the temp file is removed and the error rethrown. A crash leaves either
 * the old file or the new one, never a torn one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replace `file` atomically with `data`, created with `mode` (chmod'ed too: umask must not widen nor narrow it). */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w', mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fchmodSync(fd, mode);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    fsyncDir(path.dirname(file));
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** fsync an existing file (after a tool such as openssl wrote it). */
export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

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

/** Write `content` unless the file already holds exactly that; says which happened. */
export function writeIfChanged(file: string, content: string, mode = 0o600): 'created' | 'updated' | 'kept' {
  let before: string | undefined;
  try {
    before = fs.readFileSync(file, 'utf8');
  } catch {
    before = undefined;
  }
  if (before === content) {
    fs.chmodSync(file, mode);
    return 'kept';
  }
  writeFileAtomic(file, content, mode);
  return before === undefined ? 'created' : 'updated';
}
