/**
 * Week file ⇄ archive object: zstd (Debian's `zstd` CLI, level 9 by default: Node 20 has no zstd in
 * zlib, and the CLI streams at hundreds of MB/s on one core) then age (backup/crypto) to the
 * backup recipients. `pack` writes the object to a local temp file first, because a target may
 * call `open()` again to retry an upload and age output differs on every run (fresh file key).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { DecryptionSpec, EncryptionSpec } from '../contracts.js';
import { createDecryptStream, createEncryptStream } from '../crypto/index.js';
import { commitFile, removeIfExists } from './files.js';

export const ZSTD = 'zstd';
const LEVEL = 9;

function zstd(args: string[]) {
  const child = spawn(ZSTD, ['-q', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`cannot run ${ZSTD} (install Debian's zstd): ${e.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${ZSTD} ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
  return { child, done };
}

/** Compress and encrypt `file` into `out` (crash-safe: temp name, fsync, rename). */
export async function pack(file: string, out: string, spec: EncryptionSpec): Promise<void> {
  const tmp = `${out}.tmp`;
  removeIfExists(tmp);
  const z = zstd([`-${LEVEL}`, '-T1', '-c', file]);
  z.child.stdin.end();
  try {
    await Promise.all([pipeline(z.child.stdout, createEncryptStream(spec), fs.createWriteStream(tmp)), z.done]);
    commitFile(tmp, out);
  } catch (err) {
    removeIfExists(tmp);
    throw err;
  }
}

/** Decrypt and decompress an archive object stream into `out` (temp name, then rename). */
export async function unpack(source: Readable, out: string, spec: DecryptionSpec): Promise<void> {
  const tmp = `${out}.tmp`;
  removeIfExists(tmp);
  const z = zstd(['-d', '-c']);
  try {
    // age authenticates each chunk before releasing it; the file is renamed only once all verified.
    await Promise.all([pipeline(source, createDecryptStream(spec), z.child.stdin), pipeline(z.child.stdout, fs.createWriteStream(tmp)), z.done]);
    commitFile(tmp, out);
  } catch (err) {
    z.child.kill();
    removeIfExists(tmp);
    throw err;
  }
}
