/**
 * age X25519 keys: `AGE-SECRET-KEY-1…` identities and `age1…` recipients (bech32, BIP 173), and the
 * node:crypto KeyObjects behind them. Only native X25519 keys: the post-quantum hybrid kind
 * (`age1pq1…`) cannot be read by age 1.1, which is what a disaster-recovery runbook can count on.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { bech32 } from '@scure/base';
import { AgeError } from './errors.js';

const IDENTITY_HRP = 'age-secret-key-';
const RECIPIENT_HRP = 'age';
// DER framing of a raw X25519 key (RFC 8410): node:crypto imports keys as PKCS8/SPKI, not raw bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface KeyPair {
  /** Secret: `AGE-SECRET-KEY-1…` (uppercase, as age-keygen prints it). */
  identity: string;
  /** Public: `age1…`. */
  recipient: string;
}

/** A new random X25519 key pair in age's text encodings. */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { identity: encodeIdentity(rawPrivateKey(privateKey)), recipient: encodeRecipient(rawPublicKey(publicKey)) };
}

/** The `age1…` recipient of an identity (what `age-keygen -y` prints). */
export function recipientFromIdentity(identity: string): string {
  const priv = x25519PrivateKey(parseIdentity(identity));
  return encodeRecipient(rawPublicKey(createPublicKey(priv)));
}

/**
 * The 32 raw secret bytes of an `AGE-SECRET-KEY-1…` string (surrounding whitespace ignored; all
 * upper or all lower case). Throws AgeError 'bad-key'. Messages never echo the secret.
 */
export function parseIdentity(text: string): Buffer {
  const s = text.trim();
  if (/^AGE-SECRET-KEY-PQ-1/i.test(s)) {
    throw new AgeError('bad-key', 'post-quantum hybrid identities (AGE-SECRET-KEY-PQ-1…) are not supported: age 1.1 cannot read them; use an X25519 identity (plain age-keygen)');
  }
  if (!/^AGE-SECRET-KEY-1/i.test(s)) {
    const hint = /^age1/i.test(s) ? ' (this looks like a recipient, i.e. a public key)' : s === '' ? ' (empty)' : '';
    throw new AgeError('bad-key', `not an age identity: expected AGE-SECRET-KEY-1…${hint}`);
  }
  return decodeKey(s, IDENTITY_HRP, 'identity AGE-SECRET-KEY-1…', false);
}

/** The 32 raw public bytes of an `age1…` recipient. Throws AgeError 'bad-key'. */
export function parseRecipient(text: string): Buffer {
  const s = text.trim();
  if (/^age1pq1/i.test(s)) {
    throw new AgeError('bad-key', 'post-quantum hybrid recipients (age1pq1…) are not supported: age 1.1 cannot read them; use an X25519 recipient (age1…)');
  }
  if (/^age1tag/i.test(s)) throw new AgeError('bad-key', 'tag recipients (age1tag…) are not supported: use an X25519 recipient (age1…)');
  if (/^(ssh-|ecdsa-)/.test(s)) throw new AgeError('bad-key', 'SSH recipients are not supported: use an X25519 recipient (age1…)');
  if (/^AGE-SECRET-KEY-/i.test(s)) {
    throw new AgeError('bad-key', 'not an age recipient: this is an identity (a secret key); give its public key, age1… (age-keygen -y)');
  }
  if (!/^age1/i.test(s)) throw new AgeError('bad-key', `not an age recipient: expected age1…, got ${JSON.stringify(s.slice(0, 12))}`);
  return decodeKey(s, RECIPIENT_HRP, `recipient ${s}`, true);
}

/**
 * The identities in an age identity file: one `AGE-SECRET-KEY-1…` per line, blank lines and `#`
 * comments allowed (age-keygen's output). Throws 'bad-key' on any other line or when there is none.
 */
export function parseIdentityFile(text: string): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      parseIdentity(line);
    } catch (err) {
      throw new AgeError('bad-key', `identity file line ${i + 1}: ${(err as Error).message}`);
    }
    out.push(line);
  }
  if (out.length === 0) throw new AgeError('bad-key', 'identity file holds no AGE-SECRET-KEY-1… line');
  return out;
}

export function encodeIdentity(raw: Uint8Array): string {
  return bech32.encode(IDENTITY_HRP, bech32.toWords(raw), false).toUpperCase();
}

export function encodeRecipient(raw: Uint8Array): string {
  return bech32.encode(RECIPIENT_HRP, bech32.toWords(raw), false);
}

export function x25519PrivateKey(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

export function x25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

function rawPrivateKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
}

function decodeKey(s: string, hrp: string, what: string, echo: boolean): Buffer {
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) throw new AgeError('bad-key', `invalid ${what}: mixes upper and lower case`);
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(s as `${string}1${string}`, false);
  } catch (err) {
    // scure's messages quote the input; for a secret key that would put it in a log.
    const detail = echo ? `: ${(err as Error).message}` : ' (bad checksum or characters: mistyped or cut short?)';
    throw new AgeError('bad-key', `invalid ${what}${detail}`);
  }
  if (decoded.prefix !== hrp) throw new AgeError('bad-key', `invalid ${what}: unexpected bech32 prefix`);
  let bytes: Uint8Array;
  try {
    bytes = bech32.fromWords(decoded.words);
  } catch {
    throw new AgeError('bad-key', `invalid ${what}: bad padding`);
  }
  if (bytes.length !== 32) throw new AgeError('bad-key', `invalid ${what}: ${bytes.length} bytes of key, expected 32`);
  return Buffer.from(bytes);
}
