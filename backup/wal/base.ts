/**
 * Uploading a generation's base: the database file itself, byte for byte, while the shipper's hold
 * (a reader on WAL mark 0, taken right after a complete checkpoint) keeps every checkpoint from
 * writing to it — so the file is exactly the state at the generation's start position and the
 * writers are not stalled while it is copied.
 *
 * The file is read by a child process: opening and closing a descriptor of the database file in
 * this process would release every POSIX lock that this process's SQLite connections hold on it
 * (https://www.sqlite.org/howtocorrupt.html §2.2), and the shipper may share a process with app
 * connections. A child's descriptors carry no such risk.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Readable, Transform, pipeline } from 'node:stream';
import type { EncryptionSpec, Target } from '../contracts.js';
import { createEncryptStream } from '../crypto/index.js';
import { baseKey } from './segment.js';

const COPY_SCRIPT = `
const fs = require('fs');
const [file, size] = process.argv.slice(1);
const s = fs.createReadStream(file, { start: 0, end: Number(size) - 1 });
s.on('error', (e) => { process.stderr.write(String(e && e.message)); process.exit(1); });
s.pipe(process.stdout);
`;

export interface BaseObject {
  key: string;
  /** Stored (encrypted) bytes and their SHA-256. */
  size: number;
  sha256: string;
  plainSize: number;
  plainSha256: string;
}

/** Encrypt and store the first `size` bytes of `dbFile` as `wal/<generation>/base.db.age`. */
export async function uploadBase(opts: { dbFile: string; size: number; target: Target; encryption: EncryptionSpec; generation: string }): Promise<BaseObject> {
  const key = baseKey(opts.generation);
  const before = fs.statSync(opts.dbFile);
  let last: { plain: ReturnType<typeof createHash>; cipher: ReturnType<typeof createHash>; plainBytes: number; cipherBytes: number } | undefined;
  await opts.target.put(key, () => {
    const sink = { plain: createHash('sha256'), cipher: createHash('sha256'), plainBytes: 0, cipherBytes: 0 };
    last = sink;
    return openBaseStream(opts.dbFile, opts.size, opts.encryption, sink);
  });
  const after = fs.statSync(opts.dbFile);
  // Belt and braces for the hold's guarantee: a checkpoint during the copy would show here.
  if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || before.size !== opts.size) {
    await opts.target.delete([key]).catch(() => undefined);
    throw new Error(`the database file changed while its base copy was uploaded (size ${before.size} → ${after.size}); retrying later`);
  }
  if (!last) throw new Error('base upload produced no stream');
  return { key, size: last.cipherBytes, sha256: last.cipher.digest('hex'), plainSize: last.plainBytes, plainSha256: last.plain.digest('hex') };
}

function openBaseStream(
  dbFile: string,
  size: number,
  spec: EncryptionSpec,
  sink: { plain: ReturnType<typeof createHash>; cipher: ReturnType<typeof createHash>; plainBytes: number; cipherBytes: number },
): Readable {
  const source: Readable = size === 0 ? Readable.from([]) : spawnCopy(dbFile, size);
  const plainTap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sink.plain.update(chunk);
      sink.plainBytes += chunk.length;
      cb(null, chunk);
    },
    // Fail before the end reaches the target: a short copy never becomes a stored object.
    flush(cb) {
      cb(sink.plainBytes === size ? null : new Error(`base copy of ${dbFile}: read ${sink.plainBytes} of ${size} bytes`));
    },
  });
  const cipherTap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sink.cipher.update(chunk);
      sink.cipherBytes += chunk.length;
      cb(null, chunk);
    },
  });
  return pipeline(source, plainTap, createEncryptStream(spec), cipherTap, () => undefined);
}

function spawnCopy(dbFile: string, size: number): Readable {
  const child = spawn(process.execPath, ['-e', COPY_SCRIPT, dbFile, String(size)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const out = child.stdout;
  child.on('close', (code) => {
    if (code !== 0 && code !== null) out.destroy(new Error(`reading ${dbFile} failed: ${stderr.trim() || `exit ${code}`}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return out;
}
