/**
 * Crash-safe file steps of the archiver (HOUSE-STYLE 10): fsync a file and its directory, rename
 * into place, hash a file. Kept here, small, because the backup-format work moves the engine's
 * own helpers into services/shared; after that merge these can use the shared ones.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r'); // fsync works on a read-only descriptor (and on a 0444 file)
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync `tmp`, rename it to `file`, fsync the directory. */
export function commitFile(tmp: string, file: string): void {
  fsyncFile(tmp);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

export function removeIfExists(file: string): void {
  fs.rmSync(file, { force: true });
}

export async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  await pipeline(stream, async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      h.update(chunk);
      bytes += chunk.length;
    }
    yield* [];
  });
  return { sha256: h.digest('hex'), bytes };
}

export const sha256OfFile = (file: string) => sha256Of(fs.createReadStream(file));
