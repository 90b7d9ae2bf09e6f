/**
 * Streaming age v1 encryption: plaintext in, an age file out, never more than one 64 KiB chunk held.
 */
import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { EncryptionSpec } from '../contracts.js';
import { AgeError } from './errors.js';
import { encodeHeader, type Stanza } from './header.js';
import { parseRecipient } from './age-keys.js';
import { CHUNK_BYTES, PAYLOAD_NONCE_BYTES, payloadKey, sealChunk } from './payload.js';
import { DEFAULT_SCRYPT_WORK_FACTOR, FILE_KEY_BYTES, wrapScrypt, wrapX25519 } from './stanzas.js';

export interface EncryptOptions {
  /** log2 of the scrypt cost for a passphrase (default 18, age's own; tests use less). */
  scryptWorkFactor?: number;
}

/**
 * A Transform from plaintext to an age v1 file readable by the stock `age` CLI.
 *
 * `spec.recipients` (X25519, `age1…`) or `spec.passphrase` — not both: age requires a scrypt stanza
 * to be the only stanza of a header, and the `age` CLI refuses files that break this, so a mixed
 * header would not be "age" any more. Throws AgeError 'bad-spec' for that (and for an empty spec),
 * 'bad-key' for a malformed recipient — synchronously, before any byte flows. To offer a passphrase
 * as well, encrypt the *identity* with the passphrase as a separate age file (see index.ts).
 */
export function createEncryptStream(spec: EncryptionSpec, opts: EncryptOptions = {}): Transform {
  const recipients = spec.recipients.map((r) => parseRecipient(r));
  const passphrase = spec.passphrase;
  if (recipients.length > 0 && passphrase !== undefined) {
    throw new AgeError(
      'bad-spec',
      'age cannot combine recipients and a passphrase in one file (a scrypt stanza must be the only stanza): ' +
        'encrypt to the recipients, and protect the identity with the passphrase separately',
    );
  }
  if (recipients.length === 0 && passphrase === undefined) throw new AgeError('bad-spec', 'nothing to encrypt to: give at least one recipient or a passphrase');
  if (passphrase === '') throw new AgeError('bad-spec', 'the passphrase is empty');
  const logN = opts.scryptWorkFactor ?? DEFAULT_SCRYPT_WORK_FACTOR;
  if (!Number.isInteger(logN) || logN < 1 || logN > 30) throw new AgeError('bad-spec', `scrypt work factor must be an integer in 1..30, got ${logN}`);

  const fileKey = randomBytes(FILE_KEY_BYTES);
  const stanzas: Promise<Stanza[]> =
    passphrase !== undefined ? wrapScrypt(fileKey, passphrase, logN).then((s) => [s]) : Promise.resolve(recipients.map((r) => wrapX25519(fileKey, r)));
  stanzas.catch(() => undefined); // awaited on the first write; never an unhandled rejection
  return new AgeEncryptStream(fileKey, stanzas);
}

class AgeEncryptStream extends Transform {
  private key: Buffer | undefined;
  private counter = 0;
  /** The current chunk: it is sealed only once we know whether it is the last. */
  private readonly pending = Buffer.allocUnsafe(CHUNK_BYTES);
  private pendingLength = 0;

  constructor(
    private readonly fileKey: Buffer,
    private readonly stanzas: Promise<Stanza[]>,
  ) {
    super({ readableHighWaterMark: 4 * CHUNK_BYTES, writableHighWaterMark: 4 * CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.key) {
      this.consume(chunk);
      cb();
      return;
    }
    this.start().then(() => {
      this.consume(chunk);
      cb();
    }, cb);
  }

  override _flush(cb: TransformCallback): void {
    const finish = () => {
      // The last chunk: may be empty only when it is the only one (empty plaintext).
      this.seal(this.pending.subarray(0, this.pendingLength), true);
      this.pendingLength = 0;
      cb();
    };
    if (this.key) finish();
    else this.start().then(finish, cb);
  }

  private async start(): Promise<void> {
    const header = encodeHeader(await this.stanzas, this.fileKey);
    const nonce = randomBytes(PAYLOAD_NONCE_BYTES);
    this.key = payloadKey(this.fileKey, nonce);
    this.push(Buffer.concat([header, nonce]));
  }

  private consume(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.pendingLength === CHUNK_BYTES) {
        // More data follows, so the held chunk is not the last.
        this.seal(this.pending, false);
        this.pendingLength = 0;
      }
      if (this.pendingLength === 0 && chunk.length - off > CHUNK_BYTES) {
        this.seal(chunk.subarray(off, off + CHUNK_BYTES), false); // no copy for large writes
        off += CHUNK_BYTES;
        continue;
      }
      const n = Math.min(CHUNK_BYTES - this.pendingLength, chunk.length - off);
      chunk.copy(this.pending, this.pendingLength, off, off + n);
      this.pendingLength += n;
      off += n;
    }
  }

  private seal(plaintext: Buffer, last: boolean): void {
    const [ct, tag] = sealChunk(this.key as Buffer, this.counter++, last, plaintext);
    if (ct.length > 0) this.push(ct);
    this.push(tag);
  }
}
