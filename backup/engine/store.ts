/**
 * Objects on a target: encrypt-and-upload with read-back, download-and-decrypt with checks, and the
 * errors an operator reads when an object is missing, truncated, modified or locked to another key.
 * Every message names the target and the object key.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DecryptionSpec, EncryptionSpec, Target } from '../contracts.js';
import { createDecryptStream, createEncryptStream, isAgeError } from '../crypto/index.js';
import { BackupError } from './errors.js';

export interface StoredInfo {
  size: number;
  sha256: string;
}

/** Encrypt one chunk in memory (chunks are small; the buffer makes upload retries byte-identical). */
export async function encryptChunk(spec: EncryptionSpec, plaintext: Buffer): Promise<{ ciphertext: Buffer; stored: StoredInfo }> {
  const parts: Buffer[] = [];
  await pipeline(Readable.from([plaintext]), createEncryptStream(spec), collector(parts));
  const ciphertext = Buffer.concat(parts);
  return { ciphertext, stored: { size: ciphertext.length, sha256: sha256(ciphertext) } };
}

/**
 * Put an object, then stream it back and compare the SHA-256 with the bytes sent; one re-upload on
 * a mismatch, then a 'readback-mismatch' error.
 */
export async function putVerified(target: Target, key: string, body: Buffer): Promise<StoredInfo> {
  const expected = sha256(body);
  for (let attempt = 1; ; attempt++) {
    await target.put(key, () => Readable.from([body]), { size: body.length });
    const got = await hashObject(target, key);
    if (got.sha256 === expected && got.size === body.length) return got;
    if (attempt >= 2) {
      throw new BackupError('readback-mismatch', `${target.name}: read-back of ${key} after upload differs from what was sent (${got.size} bytes, sha256 ${got.sha256.slice(0, 12)}…, expected ${body.length} bytes, ${expected.slice(0, 12)}…)`);
    }
  }
}

/** Stream an object and hash it. */
export async function hashObject(target: Target, key: string): Promise<StoredInfo> {
  const hash = createHash('sha256');
  let size = 0;
  const stream = await getObject(target, key);
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb();
      },
    }),
  );
  return { size, sha256: hash.digest('hex') };
}

/** get() with a missing object turned into a clear 'object-missing' error. */
export async function getObject(target: Target, key: string): Promise<Readable> {
  try {
    return await target.get(key);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw missing(target, key);
    throw err;
  }
}

export async function readObject(target: Target, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(await getObject(target, key), collector(parts));
  return Buffer.concat(parts);
}

export const missing = (target: Target, key: string) => new BackupError('object-missing', `${target.name}: object ${key} is missing`, 1, { key });

/**
 * Fetch an encrypted chunk and return its plaintext after checking, in order: the ciphertext
 * against what was stored (size → truncated, hash → modified; `known` lists every ciphertext hash a
 * manifest recorded for it), the age authentication (corrupt / truncated / wrong key), the plaintext
 * size and SHA-256 against the chunk's name.
 */
export async function fetchChunk(
  target: Target,
  key: string,
  chunk: { sha256: string; size: number },
  spec: DecryptionSpec,
  known: { sizes: Set<number>; hashes: Set<string> },
): Promise<Buffer> {
  const ct = await readObject(target, key);
  const ctHash = sha256(ct);
  const damage = storedDamage(target, key, { size: ct.length, sha256: ctHash }, known);
  let plain: Buffer;
  try {
    const parts: Buffer[] = [];
    await pipeline(Readable.from([ct]), createDecryptStream(spec, { plaintextSize: chunk.size }), collector(parts));
    plain = Buffer.concat(parts);
  } catch (err) {
    if (damage) throw damage; // the stored bytes changed: say that rather than the age symptom
    if (isAgeError(err, 'wrong-key')) {
      throw new BackupError('wrong-key', `${target.name}: ${key} cannot be decrypted with the given key(s): wrong identity or passphrase (it is encrypted to another recipient)`, 2, { key });
    }
    if (isAgeError(err, 'truncated')) throw new BackupError('object-truncated', `${target.name}: object ${key} is truncated (${ct.length} bytes)`, 1, { key });
    if (isAgeError(err, 'corrupt')) throw new BackupError('object-corrupt', `${target.name}: object ${key} is corrupt (age authentication failed: ${(err as Error).message})`, 1, { key });
    throw err;
  }
  if (plain.length !== chunk.size || sha256(plain) !== chunk.sha256) {
    throw new BackupError('object-corrupt', `${target.name}: object ${key} decrypts to content that is not the chunk the manifest records (replaced by another file?)`, 1, { key });
  }
  return plain;
}

/** The error for stored bytes that differ from every recorded upload, or undefined. */
export function storedDamage(target: Target, key: string, got: StoredInfo, known: { sizes: Set<number>; hashes: Set<string> }): BackupError | undefined {
  if (known.hashes.size === 0 || known.hashes.has(got.sha256)) return undefined;
  const largest = Math.max(...known.sizes);
  if (!known.sizes.has(got.size) && got.size < largest) {
    return new BackupError('object-truncated', `${target.name}: object ${key} is truncated (${got.size} of ${largest} bytes)`, 1, { key });
  }
  return new BackupError('object-corrupt', `${target.name}: object ${key} was modified after upload (SHA-256 ${got.sha256.slice(0, 12)}… is not the one recorded)`, 1, { key });
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function collector(parts: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
}

/** Run `fn` over `items` with at most `limit` at once; rejects with the first error (after the running ones settle). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return results;
}
