/**
 * What the archiver and the archive commands need from the configuration: the archive target (a
 * target of the backup config, named by TAPSTACK_ARCHIVE_TARGET; for S3 set its storageClass to
 * STANDARD_IA) and the backup recipients (TAPSTACK_BACKUP_RECIPIENTS) archives are encrypted to.
 */
import path from 'node:path';
import type { Config } from '../../services/shared/config.js';
import type { Logger } from '../../services/shared/logger.js';
import type { DecryptionSpec, EncryptionSpec, Target } from '../contracts.js';
import { decryptionSpec, encryptionSpec } from '../engine/encryption-spec.js';
import { loadBackupSettings } from '../engine/settings.js';
import { openTarget } from '../engine/targets.js';
import { ArchiveError } from './week-file.js';

export interface ArchiveSetup {
  target: Target;
  encryption: EncryptionSpec;
  /** Only when an identity or passphrase is configured (fetch, integrity --archives). */
  decryption: DecryptionSpec | undefined;
}

export function archiveSetup(config: Config, opts: { log?: Logger; identityFiles?: string[] } = {}): ArchiveSetup {
  const name = config.archive.target;
  if (!name) throw new ArchiveError('archive-off', 'archival is off: set TAPSTACK_ARCHIVE_TARGET to the name of a target in the backup config (DEPLOY.md "Weekly archival")');
  const settings = loadBackupSettings(config.backup.configFile);
  const t = settings.targets.find((x) => x.name === name);
  if (!t) throw new ArchiveError('unknown-target', `TAPSTACK_ARCHIVE_TARGET names "${name}", which is not a target in ${settings.file || config.backup.configFile}`);
  const target = openTarget(t, { ...(opts.log ? { log: opts.log } : {}), tmpDir: path.join(config.archive.dir, '.tmp') });
  return { target, encryption: encryptionSpec(config), decryption: decryptionSpec(config, { identityFiles: opts.identityFiles ?? [] }) };
}
