/**
 * Which keys a run uses. Encrypting needs only public recipients (TAPSTACK_BACKUP_RECIPIENTS), so
 * a stolen appliance cannot read its own backups; a passphrase alone also works. Decrypting (verify,
 * drill, restore) needs an identity: `--identity FILE` (repeatable), TAPSTACK_BACKUP_IDENTITY(_FILE),
 * or a passphrase (`--passphrase-file`, TAPSTACK_BACKUP_PASSPHRASE(_FILE)).
 */
import fs from 'node:fs';
import type { Config } from '../../services/shared/config.js';
import type { DecryptionSpec, EncryptionSpec } from '../contracts.js';
import { normalizePublicKey, parseIdentityFile, parseRecipient, SIGNING_KEY_PREFIX } from '../crypto/index.js';
import { BackupError, EXIT_CONFIG } from './errors.js';
import { installPublicKey, signingKeyFile } from './install-keys.js';

/** The encryption spec of new backups; refuses (exit 2) when there is nothing to encrypt to. */
export function encryptionSpec(config: Config): EncryptionSpec {
  const recipients = [...config.backup.recipients];
  const passphrase = config.backup.passphrase;
  if (recipients.length === 0 && !passphrase) {
    throw new BackupError(
      'no-recipients',
      'backups are encrypted, but no recipient is configured: run `tapstack backup keygen`, store the identity it prints offline, and set TAPSTACK_BACKUP_RECIPIENTS to the age1... recipient it prints',
      EXIT_CONFIG,
    );
  }
  if (recipients.length > 0 && passphrase) {
    // The age format forbids a passphrase (scrypt) stanza next to any other: one file cannot carry both.
    throw new BackupError(
      'recipients-and-passphrase',
      'TAPSTACK_BACKUP_RECIPIENTS and TAPSTACK_BACKUP_PASSPHRASE are both set, but an age file can be encrypted to recipients OR a passphrase, not both: unset one (to guard the identity with a passphrase instead, keep its file encrypted with `age -p`; age reads such identity files directly)',
      EXIT_CONFIG,
    );
  }
  for (const r of recipients) {
    try {
      parseRecipient(r);
    } catch (err) {
      throw new BackupError('bad-recipient', `TAPSTACK_BACKUP_RECIPIENTS: ${(err as Error).message}`, EXIT_CONFIG);
    }
  }
  return passphrase ? { recipients: [], passphrase } : { recipients };
}

/** Same recipients (order aside) and the same passphrase-ness. */
export function sameEncryption(a: { recipients: readonly string[]; passphrase: boolean }, b: { recipients: readonly string[]; passphrase: boolean }): boolean {
  const sa = [...a.recipients].sort().join(',');
  const sb = [...b.recipients].sort().join(',');
  return sa === sb && a.passphrase === b.passphrase;
}

export interface KeySources {
  identityFiles?: string[];
  passphraseFile?: string;
}

/** The decryption spec from flags, then the config; undefined when nothing can decrypt. */
export function decryptionSpec(config: Config, src: KeySources = {}): DecryptionSpec | undefined {
  const identities: string[] = [];
  for (const file of src.identityFiles ?? []) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new BackupError('identity-unreadable', `--identity: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 2);
    }
    try {
      identities.push(...parseIdentityFile(text));
    } catch (err) {
      throw new BackupError('bad-identity', `--identity ${file}: ${(err as Error).message}`, 2);
    }
  }
  if (identities.length === 0 && config.backup.identity) {
    try {
      identities.push(...parseIdentityFile(config.backup.identity));
    } catch (err) {
      throw new BackupError('bad-identity', `TAPSTACK_BACKUP_IDENTITY: ${(err as Error).message}`, EXIT_CONFIG);
    }
  }
  let passphrase: string | undefined;
  if (src.passphraseFile) {
    try {
      passphrase = fs.readFileSync(src.passphraseFile, 'utf8').trim(); // as TAPSTACK_BACKUP_PASSPHRASE_FILE is read
    } catch (err) {
      throw new BackupError('passphrase-unreadable', `--passphrase-file: cannot read ${src.passphraseFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 2);
    }
  } else if (config.backup.passphrase) passphrase = config.backup.passphrase;
  if (identities.length === 0 && passphrase === undefined) return undefined;
  return passphrase === undefined ? { identities } : { identities, passphrase };
}

/** Like decryptionSpec, but a missing key is an error telling the operator what to pass. */
export function requireDecryptionSpec(config: Config, src: KeySources, what: string): DecryptionSpec {
  const spec = decryptionSpec(config, src);
  if (!spec) {
    throw new BackupError(
      'no-identity',
      `${what} needs the key that decrypts the backups: pass --identity FILE (the file \`tapstack backup keygen\` printed, or age-keygen's), set TAPSTACK_BACKUP_IDENTITY_FILE, or --passphrase-file FILE for passphrase-encrypted backups`,
      2,
    );
  }
  return spec;
}

/** Public signing keys a run trusts, and where they came from (for messages). */
export interface SigningTrust {
  keys: string[];
  source: string;
}

/**
 * The signing keys restore/verify/drill check manifests against: `--signing-key` (a key
 * `ed25519:...` or a file holding one; repeatable), else the installation's own key (its
 * `<data>/secrets/backup-signing-key`: the appliance verifying its own backups, or a restore over
 * an existing installation). Undefined on a fresh host without the flag.
 */
export function signingTrust(config: Config, flags: readonly string[] = []): SigningTrust | undefined {
  if (flags.length) {
    const keys = flags.map((f) => {
      let text = f;
      if (!f.trim().startsWith(SIGNING_KEY_PREFIX) && fs.existsSync(f)) {
        text = fs.readFileSync(f, 'utf8').split('\n').find((l) => l.trim().startsWith(SIGNING_KEY_PREFIX)) ?? fs.readFileSync(f, 'utf8');
      }
      try {
        return normalizePublicKey(text);
      } catch (err) {
        throw new BackupError('bad-signing-key', `--signing-key ${f.slice(0, 40)}: ${(err as Error).message}`, 2);
      }
    });
    return { keys, source: '--signing-key' };
  }
  const own = installPublicKey(config.dataDir);
  return own ? { keys: [own], source: `this installation (${signingKeyFile(config.dataDir)})` } : undefined;
}
