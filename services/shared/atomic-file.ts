/**
 * Crash-safe files (HOUSE-STYLE 10), the one copy used by setup, the backup engine and the WAL
 * shipper: write `name.tmp`, fsync, rename over the target, fsync the directory; on failure the
 * temp file is removed and the error rethrown. A crash leaves either the old file or the new one,
 * never a torn one.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** The temp name `writeFileAtomic` uses for `file` (setup ignores a leftover one on a fresh volume). */
export const tempFileOf = (file: string) => `${file}.tmp`;

/** fsync a directory, so a rename or create inside it survives a power cut. */
export function fsyncDir(dir: string, opts: { bestEffort?: boolean } = {}): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    // Some filesystems (and some mounts of a TLS volume) refuse fsync on a directory.
    if (!opts.bestEffort) throw err;
  }
}

/** fsyncDir for async code paths (the local target). */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
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

/** Write a new file with exactly `mode` (fchmod: the umask must not widen nor narrow it) and fsync it. */
function writeSynced(file: string, data: string | Buffer, mode: number): void {
  const fd = fs.openSync(file, 'w', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fchmodSync(fd, mode);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replace `file` atomically with `data`, created with `mode` (chmod'ed too: umask must not widen nor narrow it). */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = tempFileOf(file);
  try {
    writeSynced(tmp, data, mode);
    fs.renameSync(tmp, file);
    fsyncDir(path.dirname(file));
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Create `file` with `data` only if it does not exist yet, crash-safely and race-free: the temp file
 * is linked into place (link(2) fails if the name exists), so of two first boots exactly one wins
 * and the other reads the winner's. Returns what the file holds afterwards and whether we made it.
 */
export function createFileOnce(file: string, data: string, mode = 0o600): { created: boolean; content: string } {
  try {
    return { created: false, content: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeSynced(tmp, data, mode);
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return { created: false, content: fs.readFileSync(file, 'utf8') };
    }
    fsyncDir(path.dirname(file));
    return { created: true, content: data };
  } finally {
    fs.rmSync(tmp, { force: true });
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

/** Put a finished temp file in place: fsync it, rename it over `file`, fsync the directory (a tool such as zstd wrote it). */
export function commitFile(tmp: string, file: string): void {
  fsyncFile(tmp);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** rename(2), or copy + rename + unlink across filesystems (a TLS volume, a rollback directory). */
export function moveAcross(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    const tmp = `${to}.tmp-move`;
    fs.cpSync(from, tmp, { recursive: true, preserveTimestamps: true });
    fs.renameSync(tmp, to);
    fs.rmSync(from, { recursive: true, force: true });
  }
}
