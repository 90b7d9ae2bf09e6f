/**
 * The age payload: a 16-byte nonce, then the STREAM construction — 64 KiB plaintext chunks, each
 * sealed with ChaCha20-Poly1305 under HKDF(file key, nonce, "payload") and a 12-byte nonce of an
 * 11-byte big-endian chunk counter and a last-chunk flag. Spec: https://age-encryption.org/v1 ("Payload").
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { hkdf } from './header.js';

export const CHUNK_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const SEALED_CHUNK_BYTES = CHUNK_BYTES + TAG_BYTES;
export const PAYLOAD_NONCE_BYTES = 16;

export const payloadKey = (fileKey: Buffer, nonce: Buffer): Buffer => hkdf(fileKey, nonce, 'payload');

/** Bytes of the payload (after the 16-byte nonce) that carry `plaintextSize` bytes. */
export function sealedPayloadSize(plaintextSize: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextSize / CHUNK_BYTES));
  return plaintextSize + chunks * TAG_BYTES;
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  // 11-byte counter; 48 bits (16 EiB of payload) are plenty, the top 5 bytes stay zero.
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Ciphertext then tag, as two buffers (pushing them separately saves a 64 KiB copy). */
export function sealChunk(key: Buffer, counter: number, last: boolean, plaintext: Buffer): [Buffer, Buffer] {
  const c = createCipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG_BYTES });
  const ct = c.update(plaintext);
  c.final();
  return [ct, c.getAuthTag()];
}

/** The plaintext of a sealed chunk, or undefined when its tag does not verify. */
export function openChunk(key: Buffer, counter: number, last: boolean, sealed: Buffer): Buffer | undefined {
  const d = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG_BYTES });
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const pt = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  try {
    d.final();
  } catch {
    return undefined;
  }
  return pt;
}
