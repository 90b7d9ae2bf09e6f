/**
 * age v1 encryption for backups (https://age-encryption.org/v1), built on node:crypto so that one
 * core encrypts at several hundred MiB/s, and interoperable with the `age` CLI and typage.
 *
 *   createEncryptStream(spec)   plaintext → age file (X25519 recipients, or a passphrase)
 *   createDecryptStream(spec)   age file → plaintext; AgeError 'wrong-key' | 'corrupt' | 'truncated'
 *   generateKeyPair(), recipientFromIdentity(), parse*()   keys
 *
 * Recipients and a passphrase together: age forbids a scrypt stanza next to any other stanza (the
 * `age` CLI rejects such a file), so one file cannot carry both. The recovery passphrase protects
 * the *identity* instead: `encryptIdentityFile(identity, passphrase)` writes an age passphrase file
 * holding the identity file, which `age -d -i identity.age backup.age` reads directly (age ≥ 1.1
 * prompts for the passphrase of an encrypted identity file).
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DecryptionSpec, EncryptionSpec } from '../contracts.js';
import { createDecryptStream, type DecryptOptions } from './decrypt.js';
import { createEncryptStream, type EncryptOptions } from './encrypt.js';
import { parseIdentityFile, recipientFromIdentity } from './age-keys.js';

export { createDecryptStream, type DecryptOptions } from './decrypt.js';
export { createEncryptStream, type EncryptOptions } from './encrypt.js';
export { AgeError, isAgeError, type AgeErrorCode } from './errors.js';
export { generateKeyPair, parseIdentity, parseIdentityFile, parseRecipient, recipientFromIdentity, type KeyPair } from './age-keys.js';
export { CHUNK_BYTES, sealedPayloadSize } from './payload.js';

/** Encrypt a small in-memory value (stream for anything large). */
export function encryptBuffer(spec: EncryptionSpec, plaintext: Uint8Array, opts?: EncryptOptions): Promise<Buffer> {
  return collect(Readable.from([Buffer.from(plaintext)]), createEncryptStream(spec, opts));
}

/** Decrypt a small in-memory age file; rejects with AgeError. */
export function decryptBuffer(spec: DecryptionSpec, ciphertext: Uint8Array, opts?: DecryptOptions): Promise<Buffer> {
  return collect(Readable.from([Buffer.from(ciphertext)]), createDecryptStream(spec, opts));
}

/** An identity file as age-keygen writes it: comments with the date and public key, then the key. */
export function formatIdentityFile(identity: string, now: Date = new Date()): string {
  return `# created: ${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${recipientFromIdentity(identity)}\n${identity.trim()}\n`;
}

/** The identity file of `identity`, encrypted with `passphrase` (an age passphrase file). */
export function encryptIdentityFile(identity: string, passphrase: string, opts?: EncryptOptions): Promise<Buffer> {
  return encryptBuffer({ recipients: [], passphrase }, Buffer.from(formatIdentityFile(identity)), opts);
}

/** The identities inside a passphrase-encrypted identity file. */
export async function decryptIdentityFile(file: Uint8Array, passphrase: string): Promise<string[]> {
  return parseIdentityFile((await decryptBuffer({ identities: [], passphrase }, file)).toString('utf8'));
}

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  await pipeline(source, transform, sink);
  return Buffer.concat(parts);
}
export { generateSigningKey, normalizePublicKey, parseSigningPrivateKey, parseSigningPublicKey, publicKeyOf, publicKeyPem, signBytes, verifyBytes, SIGNING_KEY_PREFIX, type SigningKeyPair } from './signing.js';
