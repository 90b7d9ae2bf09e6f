/**
 * Streaming age v1 decryption. Plaintext leaves only chunk by chunk, each after its tag verified;
 * the end of the file (final flag) is known only at the end, so callers write to a temp file and
 * rename once the stream finished without error.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { DecryptionSpec } from '../contracts.js';
import { AgeError } from './errors.js';
import { HeaderParser, verifyHeaderMac } from './header.js';
import { parseIdentity } from './age-keys.js';
import { CHUNK_BYTES, PAYLOAD_NONCE_BYTES, SEALED_CHUNK_BYTES, TAG_BYTES, openChunk, payloadKey, sealedPayloadSize } from './payload.js';
import { DEFAULT_MAX_SCRYPT_WORK_FACTOR, unwrapFileKey, x25519Identity, type UnwrapKeys } from './stanzas.js';

export interface DecryptOptions {
  /**
   * The plaintext size the caller expects (e.g. from a manifest). A stream cut in the middle of its
   * last chunk is, byte for byte, the same as one whose last chunk was damaged; with the size known
   * the first is reported as 'truncated' (and extra bytes as 'corrupt') instead of as a failed tag.
   */
  plaintextSize?: number;
  /** log2 of the largest scrypt cost accepted (default 20: 1 GiB of memory). */
  maxScryptWorkFactor?: number;
}

/**
 * A Transform from an age v1 file to its plaintext. Throws synchronously 'bad-key' / 'bad-spec';
 * the stream fails with AgeError 'wrong-key', 'corrupt', 'truncated' or 'unsupported'.
 */
export function createDecryptStream(spec: DecryptionSpec, opts: DecryptOptions = {}): Transform {
  const identities = spec.identities.map((i) => x25519Identity(parseIdentity(i)));
  if (identities.length === 0 && spec.passphrase === undefined) throw new AgeError('bad-spec', 'nothing to decrypt with: give an identity or a passphrase');
  if (opts.plaintextSize !== undefined && !(Number.isSafeInteger(opts.plaintextSize) && opts.plaintextSize >= 0)) {
    throw new AgeError('bad-spec', `plaintextSize must be a non-negative integer, got ${opts.plaintextSize}`);
  }
  const keys: UnwrapKeys = { identities, passphrase: spec.passphrase, maxScryptWorkFactor: opts.maxScryptWorkFactor ?? DEFAULT_MAX_SCRYPT_WORK_FACTOR };
  return new AgeDecryptStream(keys, opts.plaintextSize === undefined ? undefined : sealedPayloadSize(opts.plaintextSize));
}

type Phase = 'header' | 'nonce' | 'payload';

class AgeDecryptStream extends Transform {
  private phase: Phase = 'header';
  /** Dropped once the header is read: it holds on to the first input buffer. */
  private parser: HeaderParser | undefined = new HeaderParser();
  private fileKey: Buffer | undefined;
  private nonce: Buffer = Buffer.alloc(0);
  private key: Buffer | undefined;
  private counter = 0;
  /** The current sealed chunk: opened once we know whether it is the last. */
  private readonly pending = Buffer.allocUnsafe(SEALED_CHUNK_BYTES);
  private pendingLength = 0;
  private payloadBytes = 0;

  constructor(
    private readonly keys: UnwrapKeys,
    private readonly expectedPayloadBytes: number | undefined,
  ) {
    super({ readableHighWaterMark: 4 * CHUNK_BYTES, writableHighWaterMark: 4 * CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (this.phase === 'payload') {
        this.payload(chunk);
        cb();
        return;
      }
    } catch (err) {
      cb(err as Error);
      return;
    }
    this.preamble(chunk).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.finish();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  /** Header (unwrap the file key, check the MAC), then the payload nonce. */
  private async preamble(chunk: Buffer): Promise<void> {
    let rest = chunk;
    if (this.phase === 'header') {
      const parsed = (this.parser as HeaderParser).feed(chunk);
      if (!parsed) return;
      this.parser = undefined;
      this.fileKey = await unwrapFileKey(parsed.header.stanzas, this.keys);
      verifyHeaderMac(this.fileKey, parsed.header);
      this.phase = 'nonce';
      rest = parsed.rest;
    }
    const need = PAYLOAD_NONCE_BYTES - this.nonce.length;
    this.nonce = Buffer.concat([this.nonce, rest.subarray(0, need)]);
    if (this.nonce.length < PAYLOAD_NONCE_BYTES) return;
    this.key = payloadKey(this.fileKey as Buffer, this.nonce);
    this.phase = 'payload';
    this.payload(rest.subarray(need));
  }

  private payload(chunk: Buffer): void {
    this.payloadBytes += chunk.length;
    if (this.expectedPayloadBytes !== undefined && this.payloadBytes > this.expectedPayloadBytes) {
      throw new AgeError('corrupt', `the file is longer than expected: more than ${this.expectedPayloadBytes} payload bytes for the expected plaintext size (data appended, or a different file)`);
    }
    let off = 0;
    while (off < chunk.length) {
      if (this.pendingLength === SEALED_CHUNK_BYTES) {
        this.openNotLast(this.pending);
        this.pendingLength = 0;
      }
      if (this.pendingLength === 0 && chunk.length - off > SEALED_CHUNK_BYTES) {
        this.openNotLast(chunk.subarray(off, off + SEALED_CHUNK_BYTES));
        off += SEALED_CHUNK_BYTES;
        continue;
      }
      const n = Math.min(SEALED_CHUNK_BYTES - this.pendingLength, chunk.length - off);
      chunk.copy(this.pending, this.pendingLength, off, off + n);
      this.pendingLength += n;
      off += n;
    }
  }

  /** A full chunk with more data after it: it must open as a non-last chunk. */
  private openNotLast(sealed: Buffer): void {
    const key = this.key as Buffer;
    const plaintext = openChunk(key, this.counter, false, sealed);
    if (!plaintext) {
      if (openChunk(key, this.counter, true, sealed)) {
        throw new AgeError('corrupt', `data follows the final chunk (chunk ${this.counter}): bytes were appended to the file`);
      }
      throw new AgeError('corrupt', `chunk ${this.counter} fails authentication: the file was modified (bit rot or tampering)`);
    }
    this.counter++;
    this.push(plaintext);
  }

  private finish(): void {
    if (this.phase === 'header') (this.parser as HeaderParser).finish();
    if (this.phase === 'nonce') throw new AgeError('truncated', 'the file ends right after the age header, inside the payload nonce: it was cut short');
    if (this.expectedPayloadBytes !== undefined && this.payloadBytes < this.expectedPayloadBytes) {
      throw new AgeError('truncated', `the file was cut short: ${this.payloadBytes} of ${this.expectedPayloadBytes} payload bytes`);
    }
    const n = this.pendingLength;
    const at = `chunk ${this.counter}`;
    if (n === 0) throw new AgeError('truncated', 'the file ends before its first payload chunk: it was cut short');
    if (n < TAG_BYTES) throw new AgeError('truncated', `the file ends inside ${at} (${n} bytes, less than a tag): it was cut short`);
    const key = this.key as Buffer;
    const sealed = this.pending.subarray(0, n);
    const plaintext = openChunk(key, this.counter, true, sealed);
    if (plaintext) {
      if (plaintext.length === 0 && this.counter > 0) throw new AgeError('corrupt', `the final ${at} is empty, which age forbids after other chunks`);
      this.push(plaintext);
      return;
    }
    if (n === SEALED_CHUNK_BYTES && openChunk(key, this.counter, false, sealed)) {
      throw new AgeError('truncated', `the file ends after ${at}, which is not the final chunk: it was cut short at a chunk boundary`);
    }
    throw new AgeError(
      'corrupt',
      `the last ${at} fails authentication: the file was modified, or cut short inside that chunk ` +
        '(the two look the same; the expected size tells them apart)',
    );
  }
}
