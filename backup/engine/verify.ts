/**
 * `backup verify` and the scheduled drill, per target:
 *   ciphertext  every chunk read back and compared with what was stored (no key needed: this is
 *               what an appliance holding only the public recipient can do);
 *   decrypt     + every chunk decrypted and every file's SHA-256 checked (needs the identity);
 *   drill       + the files restored into a temp dir and checked as a restore would (drill.ts).
 * The result is kept on the target as `backups/<id>/verify-<time>.json`; `list` shows the newest.
 * A format-2 backup's signature is checked first, against the trusted signing key: one that does
 * not verify is refused ('bad-signature') before anything else is read, and nothing is recorded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../../services/shared/config.js';
import type { Logger } from '../../services/shared/logger.js';
import type { DecryptionSpec, Target } from '../contracts.js';
import { verifyKey, type TapstackManifest, type VerifyRecord } from '../snapshot/manifest.js';
import { knownChunks, loadCatalog, openEntry, requireSignature, type CatalogEntry } from './catalog.js';
import { drillChecks } from './drill.js';
import { BackupError, describeError } from './errors.js';
import type { SigningTrust } from './encryption-spec.js';
import { acquireBackupLock, scratchDir } from './lock.js';
import { checkStoredChunks, materialize } from './materialize.js';
import { silentProgress, type Progress } from './progress.js';
import type { TargetSettings } from './settings.js';
import { putVerified } from './store.js';
import { closeTarget, openTarget } from './targets.js';

export interface VerifyOptions {
  config: Config;
  log: Logger;
  targets: TargetSettings[];
  /** A backup id (default: the newest backup of each target). */
  backupId?: string;
  /** Undefined: ciphertext level only. */
  spec?: DecryptionSpec;
  /** Signing keys manifests must verify against (required with a spec; checked when given). */
  trust?: SigningTrust;
  /** With a key: restore drill too (default true). */
  drill?: boolean;
  progress?: Progress;
  lockWaitMs?: number;
  now?: () => number;
}

export interface VerifyTargetResult {
  target: string;
  /**
   * wrong-key: the given key cannot open the backup; bad-signature: the manifest is not signed by a
   * trusted key (planted or tampered). Neither records anything (the backup's status is unchanged).
   */
  status: 'ok' | 'failed' | 'no-backups' | 'wrong-key' | 'bad-signature' | 'error';
  backupId?: string;
  record?: VerifyRecord;
  error?: { code: string; message: string };
}

export async function verifyBackups(opts: VerifyOptions): Promise<{ ok: boolean; targets: VerifyTargetResult[] }> {
  const lock = await acquireBackupLock(opts.config.dataDir, { waitMs: opts.lockWaitMs ?? 0 });
  try {
    const results: VerifyTargetResult[] = [];
    // One target after another: a drill holds a restored copy on local disk.
    for (const t of opts.targets) results.push(await verifyTarget(opts, t));
    return { ok: results.every((r) => r.status === 'ok'), targets: results };
  } finally {
    lock.release();
  }
}

async function verifyTarget(opts: VerifyOptions, t: TargetSettings): Promise<VerifyTargetResult> {
  const log = opts.log.child({ module: 'backup-verify', target: t.name });
  let target: Target | undefined;
  try {
    target = openTarget(t, { log, tmpDir: path.join(scratchDir(opts.config), 'tmp') });
    const catalog = await loadCatalog(target, { trust: opts.trust });
    let entry: CatalogEntry | undefined;
    if (opts.backupId) {
      entry = catalog.entries.find((e) => e.id === opts.backupId);
      if (!entry) {
        const damaged = catalog.damaged.find((d) => d.id === opts.backupId);
        throw new BackupError(damaged ? 'manifest-damaged' : 'unknown-backup', damaged ? damaged.error : `${t.name}: no backup ${opts.backupId}`);
      }
    } else entry = catalog.entries.at(-1);
    if (!entry) return { target: t.name, status: 'no-backups' };
    if (opts.spec || opts.trust) requireSignature(target, entry, opts.trust);
    const { record, wrongKey } = await verifyEntry(opts, target, entry, knownChunks(catalog.entries));
    if (wrongKey.length) {
      // Says nothing about the backup: do not record it (a failed record would mark a good backup
      // as bad, and later restores would warn about it).
      const message = `${t.name}: ${entry.id}: ${wrongKey.length} object(s) cannot be decrypted with the given key(s) (wrong identity or passphrase; e.g. ${wrongKey[0]}); the backup's recorded verification is unchanged`;
      log.error({ id: entry.id, objects: wrongKey.length }, 'verify: wrong key');
      return { target: t.name, status: 'wrong-key', backupId: entry.id, error: { code: 'wrong-key', message } };
    }
    await putVerified(target, verifyKey(entry.id, record.at), Buffer.from(`${JSON.stringify(record, null, 2)}\n`));
    if (record.ok) log.info({ id: entry.id, level: record.level, ms: record.durationMs }, 'backup verified');
    else log.error({ id: entry.id, level: record.level, problems: record.problems.slice(0, 10) }, 'BACKUP VERIFICATION FAILED');
    return { target: t.name, status: record.ok ? 'ok' : 'failed', backupId: entry.id, record };
  } catch (err) {
    const e = err as { code?: unknown };
    if (e.code === 'bad-signature') log.error({ err: describeError(err) }, 'verify: BAD SIGNATURE');
    if (e.code === 'bad-signature') return { target: t.name, status: 'bad-signature', error: { code: 'bad-signature', message: describeError(err) } };
    return { target: t.name, status: 'error', error: { code: typeof e.code === 'string' ? e.code : 'failed', message: describeError(err) } };
  } finally {
    await closeTarget(target);
  }
}

async function verifyEntry(opts: VerifyOptions, target: Target, entry: CatalogEntry, known: ReturnType<typeof knownChunks>): Promise<{ record: VerifyRecord; wrongKey: string[] }> {
  const now = opts.now ?? Date.now;
  const started = performance.now();
  const progress = opts.progress ?? silentProgress;
  const problems = new Set<string>();
  const checks: Record<string, unknown> = {};
  const stored = await checkStoredChunks({ target, objects: entry.summary.objects, known, progress });
  checks.format = entry.summary.format;
  checks.signature = entry.signature === 'ok' ? 'verified' : entry.signature;
  checks.objects = stored.objects;
  checks.storedBytes = stored.bytes;
  for (const p of stored.problems) problems.add(p);

  let level: VerifyRecord['level'] = 'ciphertext';
  const wrongKey: string[] = [];
  if (opts.spec) {
    level = opts.drill === false ? 'decrypt' : 'drill';
    let manifest: TapstackManifest | undefined;
    try {
      manifest = await openEntry(target, entry, { spec: opts.spec, trust: opts.trust, unsigned: 'allow' });
    } catch (err) {
      if (!(err instanceof BackupError && err.code === 'wrong-key')) throw err;
      wrongKey.push(String(err.details?.key ?? entry.id));
    }
    if (manifest) await decryptAndDrill(opts, target, entry, manifest, known, { problems, checks, wrongKey, level, progress });
  }
  const record: VerifyRecord = {
    backupId: entry.id,
    target: target.name,
    at: now(),
    level,
    ok: problems.size === 0,
    durationMs: Math.round(performance.now() - started),
    problems: [...problems],
    checks,
  };
  return { record, wrongKey };
}

async function decryptAndDrill(
  opts: VerifyOptions,
  target: Target,
  entry: CatalogEntry,
  manifest: TapstackManifest,
  known: ReturnType<typeof knownChunks>,
  r: { problems: Set<string>; checks: Record<string, unknown>; wrongKey: string[]; level: VerifyRecord['level']; progress: Progress },
): Promise<void> {
  const dir = path.join(scratchDir(opts.config), `verify-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    const m = await materialize({ target, manifest, known, spec: opts.spec as DecryptionSpec, destDir: dir, progress: r.progress, onProblem: 'collect' });
    r.checks.decryptedFiles = m.files.length;
    r.checks.decryptedBytes = m.bytes;
    for (const p of m.problems) r.problems.add(p);
    r.wrongKey.push(...m.wrongKey);
    if (r.level === 'drill' && !r.wrongKey.length) {
      if (m.problems.length) r.problems.add('restore drill skipped: not every file could be restored');
      else {
        r.progress.note(`${target.name}: restore drill (integrity checks) on ${entry.id}...`);
        const drill = await drillChecks(dir, manifest);
        r.checks.drill = drill.checks;
        for (const p of drill.problems) r.problems.add(p);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
