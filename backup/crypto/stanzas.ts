/**
 * Wrapping the 16-byte file key into header stanzas and unwrapping it again: X25519 recipients and
 * the scrypt passphrase stanza. Spec: https://age-encryption.org/v1 ("X25519 recipient type",
 * "scrypt recipient type").
 */
import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, scrypt, type KeyObject } from 'node:crypto';
import { AgeError } from './errors.js';
import { b64decode, b64encode, hkdf, type Stanza } from './header.js';
import { rawPublicKey, x25519PrivateKey, x25519PublicKey } from './age-keys.js';

export const FILE_KEY_BYTES = 16;
const X25519_INFO = 'age-encryption.org/v1/X25519';
const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
const ZERO_NONCE = Buffer.alloc(12);
const WRAPPED_BYTES = FILE_KEY_BYTES + 16;
/** age's default passphrase work factor (2^18 ≈ 0.3–1 s, 256 MiB). */
export const DEFAULT_SCRYPT_WORK_FACTOR = 18;
/** Reading: 2^20 × 1 KiB = 1 GiB of scrypt memory at most (typage's limit; age itself allows 22). */
export const DEFAULT_MAX_SCRYPT_WORK_FACTOR = 20;

/** An identity ready to use: the private KeyObject and the raw public key (part of the HKDF salt). */
export interface X25519Identity {
  privateKey: KeyObject;
  publicKey: Buffer;
}

export function x25519Identity(rawSecret: Buffer): X25519Identity {
  const privateKey = x25519PrivateKey(rawSecret);
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

export function wrapX25519(fileKey: Buffer, recipient: Buffer): Stanza {
  const ephemeral = generateKeyPairSync('x25519');
  const share = rawPublicKey(ephemeral.publicKey);
  const shared = x25519(ephemeral.privateKey, recipient);
  if (!shared) throw new AgeError('bad-key', `recipient ${b64encode(recipient)} is a low-order point: not a usable X25519 public key`);
  const key = hkdf(shared, Buffer.concat([share, recipient]), X25519_INFO);
  return { args: ['X25519', b64encode(share)], body: aeadSeal(key, fileKey) };
}

export async function wrapScrypt(fileKey: Buffer, passphrase: string, logN: number): Promise<Stanza> {
  const salt = randomBytes(16);
  const key = await scryptKey(passphrase, salt, logN);
  return { args: ['scrypt', b64encode(salt), String(logN)], body: aeadSeal(key, fileKey) };
}

export interface UnwrapKeys {
  identities: X25519Identity[];
  passphrase?: string | undefined;
  maxScryptWorkFactor: number;
}

/**
 * The file key from the first stanza one of `keys` opens. Throws 'wrong-key' when none does,
 * 'corrupt' for a malformed X25519/scrypt stanza (other stanza types are skipped, as age does).
 */
export async function unwrapFileKey(stanzas: Stanza[], keys: UnwrapKeys): Promise<Buffer> {
  const scryptStanza = stanzas.find((s) => s.args[0] === 'scrypt');
  if (scryptStanza) {
    if (stanzas.length !== 1) throw new AgeError('corrupt', 'damaged age header: a scrypt stanza must be the only stanza');
    return unwrapScrypt(scryptStanza, keys);
  }
  const x25519Stanzas = stanzas.filter((s) => s.args[0] === 'X25519');
  if (x25519Stanzas.length === 0) {
    const types = [...new Set(stanzas.map((s) => s.args[0]))].join(', ');
    throw new AgeError('wrong-key', `the file has no X25519 or passphrase stanza (stanza types: ${types}): it was encrypted to keys of another kind`);
  }
  if (keys.identities.length === 0) {
    throw new AgeError('wrong-key', `the file is encrypted to ${x25519Stanzas.length} X25519 recipient(s) but no identity was given${keys.passphrase !== undefined ? ' (only a passphrase)' : ''}`);
  }
  for (const stanza of x25519Stanzas) {
    const [, shareText, ...extra] = stanza.args;
    const share = shareText === undefined ? undefined : b64decode(shareText);
    if (!share || share.length !== 32 || extra.length > 0 || stanza.body.length !== WRAPPED_BYTES) {
      throw new AgeError('corrupt', 'damaged age header: malformed X25519 stanza');
    }
    for (const id of keys.identities) {
      const shared = x25519(id.privateKey, share);
      if (!shared) throw new AgeError('corrupt', 'damaged age header: an X25519 stanza holds a low-order share');
      const fileKey = aeadOpen(hkdf(shared, Buffer.concat([share, id.publicKey]), X25519_INFO), stanza.body);
      if (fileKey) return fileKey;
    }
  }
  throw new AgeError(
    'wrong-key',
    `wrong key: none of the ${keys.identities.length} identit${keys.identities.length === 1 ? 'y' : 'ies'} given opens the file's ` +
      `${x25519Stanzas.length} X25519 stanza(s) (or the stanza itself was damaged)`,
  );
}

async function unwrapScrypt(stanza: Stanza, keys: UnwrapKeys): Promise<Buffer> {
  const [, saltText, logNText, ...extra] = stanza.args;
  const salt = saltText === undefined ? undefined : b64decode(saltText);
  if (!salt || salt.length !== 16 || logNText === undefined || !/^[1-9][0-9]*$/.test(logNText) || extra.length > 0 || stanza.body.length !== WRAPPED_BYTES) {
    throw new AgeError('corrupt', 'damaged age header: malformed scrypt stanza');
  }
  if (keys.passphrase === undefined) {
    throw new AgeError('wrong-key', 'the file is passphrase-protected (scrypt) but no passphrase was given');
  }
  const logN = Number(logNText);
  if (logN > keys.maxScryptWorkFactor) {
    throw new AgeError('unsupported', `the file's scrypt work factor 2^${logN} exceeds the limit 2^${keys.maxScryptWorkFactor} (memory ${2 ** (logN - 10)} MiB)`);
  }
  const fileKey = aeadOpen(await scryptKey(keys.passphrase, salt, logN), stanza.body);
  if (!fileKey) throw new AgeError('wrong-key', 'wrong passphrase (or a damaged scrypt stanza)');
  return fileKey;
}

function scryptKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  // scrypt needs 128·N·r bytes; node's default cap (32 MiB) is below age's default cost.
  const options = { N, r: 8, p: 1, maxmem: 256 * N * 8 + (1 << 20) };
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(passphrase, 'utf8'), Buffer.concat([Buffer.from(SCRYPT_LABEL, 'latin1'), salt]), 32, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** X25519(priv, pub), or undefined for the all-zero result of a low-order point. */
function x25519(privateKey: KeyObject, publicRaw: Buffer): Buffer | undefined {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: x25519PublicKey(publicRaw) });
  } catch {
    return undefined; // OpenSSL refuses an all-zero shared secret
  }
  return shared.every((b) => b === 0) ? undefined : shared;
}

function aeadSeal(key: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

function aeadOpen(key: Buffer, sealed: Buffer): Buffer | undefined {
  const d = createDecipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = d.update(sealed.subarray(0, sealed.length - 16));
  try {
    d.final();
  } catch {
    return undefined;
  }
  return out;
}
