/**
 * Ed25519 signatures of backup manifests (node:crypto). The appliance signs every manifest with its
 * signing key; restore, verify and the drill check the signature against a public key the operator
 * trusts. The public key is written as one line, `ed25519:<base64 of its DER SubjectPublicKeyInfo>`,
 * so stock tools can use it: wrapped in PEM armor it is what `openssl pkeyutl -verify -pubin` reads.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export const SIGNING_KEY_PREFIX = 'ed25519:';

export interface SigningKeyPair {
  /** PKCS#8 PEM of the private key (kept in the installation's secrets). */
  privatePem: string;
  /** `ed25519:...` */
  publicKey: string;
}

export function generateSigningKey(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: formatPublicKey(publicKey) };
}

export function formatPublicKey(key: KeyObject): string {
  return `${SIGNING_KEY_PREFIX}${key.export({ type: 'spki', format: 'der' }).toString('base64')}`;
}

/** The private key of a PEM, refused unless it is Ed25519. */
export function parseSigningPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 private key (${key.asymmetricKeyType})`);
  return key;
}

export const publicKeyOf = (privateKey: KeyObject): string => formatPublicKey(createPublicKey(privateKey));

/** `ed25519:<base64 SPKI>` or a PEM public key → a KeyObject; throws with the reason. */
export function parseSigningPublicKey(text: string): KeyObject {
  const t = text.trim();
  let key: KeyObject;
  try {
    key = t.startsWith(SIGNING_KEY_PREFIX) ? createPublicKey({ key: Buffer.from(t.slice(SIGNING_KEY_PREFIX.length), 'base64'), format: 'der', type: 'spki' }) : createPublicKey(t);
  } catch {
    throw new Error(`not a signing public key (expected ${SIGNING_KEY_PREFIX}<base64>, as \`tapstack setup\` and \`tapstack backup keygen\` print it)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 public key (${key.asymmetricKeyType})`);
  return key;
}

/** The PEM form of a public key (for `openssl pkeyutl -verify -pubin -inkey`). */
export const publicKeyPem = (text: string): string => parseSigningPublicKey(text).export({ type: 'spki', format: 'pem' }).toString();

/** The canonical one-line form of any accepted public key text. */
export const normalizePublicKey = (text: string): string => formatPublicKey(parseSigningPublicKey(text));

export const signBytes = (privateKey: KeyObject, data: Buffer): Buffer => sign(null, data, privateKey);

export function verifyBytes(publicKey: string | KeyObject, data: Buffer, signature: Buffer): boolean {
  const key = typeof publicKey === 'string' ? parseSigningPublicKey(publicKey) : publicKey;
  try {
    return signature.length === 64 && verify(null, data, key, signature);
  } catch {
    return false;
  }
}
