/**
 * The installation's two backup secrets, generated at first boot (by `tapstack setup`, or by the
 * first backup of an installation set up before format 2) into `<data>/secrets/` beside the Redis
 * password, and therefore inside every backup:
 *   backup-dedup-key     32 random bytes (hex): chunk object names are HMAC-SHA256(key, plaintext),
 *                        so dedup works and a listing reveals nothing about the plaintext. Also
 *                        stored on each target as `keys/dedup-<key id>.age`, encrypted to the
 *                        recipients, so the identity alone recovers it.
 *   backup-signing-key   Ed25519 private key (PKCS#8 PEM): signs every manifest. Its public half
 *                        (`ed25519:...`) is printed by setup and keygen; keep it with the identity.
 */
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createFileOnce } from '../../services/shared/atomic-file.js';
import { generateSigningKey, parseSigningPrivateKey, publicKeyOf } from '../crypto/index.js';
import { BackupError, EXIT_CONFIG } from './errors.js';

export const DEDUP_KEY_NAME = 'backup-dedup-key';
export const SIGNING_KEY_NAME = 'backup-signing-key';

export const dedupKeyFile = (dataDir: string) => path.join(dataDir, 'secrets', DEDUP_KEY_NAME);
export const signingKeyFile = (dataDir: string) => path.join(dataDir, 'secrets', SIGNING_KEY_NAME);
/** Where a target keeps the encrypted dedup key. */
export const dedupKeyObject = (keyId: string) => `keys/dedup-${keyId}.age`;

export interface InstallKeys {
  dedupKey: Buffer;
  /** A public, non-secret name of the dedup key (recorded in manifests). */
  dedupKeyId: string;
  signingKey: KeyObject;
  /** `ed25519:...` */
  publicKey: string;
  /** Files this call created. */
  created: string[];
}

/** Read the installation's keys, creating those that do not exist yet (crash-safe, race-free). */
export function ensureInstallKeys(dataDir: string): InstallKeys {
  fs.mkdirSync(path.join(dataDir, 'secrets'), { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const dedup = createFileOnce(dedupKeyFile(dataDir), `${randomBytes(32).toString('hex')}\n`);
  if (dedup.created) created.push(dedupKeyFile(dataDir));
  const signing = createFileOnce(signingKeyFile(dataDir), generateSigningKey().privatePem);
  if (signing.created) created.push(signingKeyFile(dataDir));
  return { ...parseKeys(dedup.content, signing.content), created };
}

/** The installation's signing public key, if it has one (never creates it). */
export function installPublicKey(dataDir: string): string | undefined {
  let pem: string;
  try {
    pem = fs.readFileSync(signingKeyFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return publicKeyOf(parseSigningPrivateKey(pem));
  } catch {
    return undefined;
  }
}

export const dedupKeyIdOf = (key: Buffer) => createHmac('sha256', key).update('tapstack-backup dedup key id').digest('hex').slice(0, 16);

function parseKeys(dedupText: string, signingPem: string): Omit<InstallKeys, 'created'> {
  const hex = dedupText.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new BackupError('bad-dedup-key', `${DEDUP_KEY_NAME} must hold 64 hex digits (32 bytes); restore it from a backup or remove it to start a new key (the next backup then uploads every chunk again)`, EXIT_CONFIG);
  let signingKey: KeyObject;
  try {
    signingKey = parseSigningPrivateKey(signingPem);
  } catch (err) {
    throw new BackupError('bad-signing-key', `${SIGNING_KEY_NAME}: ${(err as Error).message}`, EXIT_CONFIG);
  }
  const dedupKey = Buffer.from(hex, 'hex');
  return { dedupKey, dedupKeyId: dedupKeyIdOf(dedupKey), signingKey, publicKey: publicKeyOf(signingKey) };
}
