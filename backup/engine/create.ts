/**
 * `backup create`: one consistent snapshot, uploaded to every selected target.
 *
 * Per target: read its catalog, upload (encrypted, read back) only the chunks it lacks, then write
 * the manifest LAST — a backup exists only once its manifest does, so a run killed at any point
 * leaves no listed partial backup, only unreferenced chunks that the next run overwrites or prune
 * deletes. A `full` run also reads back every chunk it reuses and re-uploads any that is missing or
 * damaged (it depends on nothing it has not checked); an `incremental` trusts the target's listing.
 * When the snapshot equals the target's newest backup nothing is uploaded at all.
 * Targets run concurrently and independently: one failing never stops the others.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../../services/shared/config.js';
import type { Logger } from '../../services/shared/logger.js';
import type { EncryptionSpec, Target } from '../contracts.js';
import { CHUNK_SIZE, chunkKey, manifestKey, newBackupId, sameContent, type ManifestChunk, type TapstackManifest } from '../snapshot/manifest.js';
import { cleanStaleStaging, readChunk, stageSnapshot, type StagedSnapshot } from '../snapshot/staging.js';
import type { SqliteSnapshotMethod } from '../snapshot/sqlite.js';
import { knownChunks, loadCatalog } from './catalog.js';
import { BackupError, describeError } from './errors.js';
import { encryptionSpec, sameEncryption } from './keys.js';
import { acquireBackupLock } from './lock.js';
import { silentProgress, type Progress } from './progress.js';
import type { TargetSettings } from './settings.js';
import { encryptChunk, hashObject, mapLimit, putVerified, type StoredInfo } from './store.js';
import { closeTarget, openTarget } from './targets.js';

export type BackupKind = 'full' | 'incremental';

export interface CreateOptions {
  config: Config;
  log: Logger;
  kind: BackupKind;
  targets: TargetSettings[];
  backupConfigFile: string;
  progress?: Progress;
  includeRedis?: boolean;
  sqliteMethod?: SqliteSnapshotMethod;
  /** Chunks uploaded at once per target. */
  concurrency?: number;
  chunkSize?: number;
  lockWaitMs?: number;
  now?: () => number;
  /** Test hook: called after each uploaded chunk (e.g. to kill the process mid-upload). */
  onChunkUploaded?: (target: string, key: string) => void;
}

export interface TargetResult {
  target: string;
  status: 'created' | 'unchanged' | 'failed';
  kind: BackupKind;
  /** The new backup, or (unchanged) the existing backup that already holds this state. */
  id?: string;
  totalBytes: number;
  uploadedChunks: number;
  uploadedBytes: number;
  reusedChunks: number;
  /** full: reused chunks found missing or damaged and uploaded again. */
  healedChunks: number;
  durationMs: number;
  error?: { code: string; message: string };
  notes: string[];
}

export interface CreateReport {
  ok: boolean;
  kind: BackupKind;
  snapshot: {
    snapshotAt: number;
    stagingMs: number;
    sqlite: { method: string; durationMs: number; size: number };
    redis: { status: 'ok' | 'skipped'; keys?: number; source?: string; reason?: string };
    files: number;
    totalBytes: number;
  };
  targets: TargetResult[];
  notes: string[];
}

export async function createBackup(opts: CreateOptions): Promise<CreateReport> {
  const spec = encryptionSpec(opts.config); // refuse before touching anything
  const log = opts.log.child({ module: 'backup-create' });
  const lock = await acquireBackupLock(opts.config.dataDir, { waitMs: opts.lockWaitMs ?? 0 });
  let staged: StagedSnapshot | undefined;
  try {
    const stale = cleanStaleStaging(opts.config.backup.stagingDir);
    if (stale.length) log.warn({ removed: stale }, 'removed staging left by an interrupted run');
    const progress = opts.progress ?? silentProgress;
    progress.note(`snapshotting ${opts.config.dbFile}${opts.includeRedis === false ? '' : ', Redis'} and config files...`);
    staged = await stageSnapshot(opts.config, {
      backupConfigFile: opts.backupConfigFile,
      runId: `${Date.now()}-${randomBytes(3).toString('hex')}`,
      sqliteMethod: opts.sqliteMethod,
      includeRedis: opts.includeRedis,
      chunkSize: opts.chunkSize,
    });
    const snap = staged;
    const totalBytes = snap.files.reduce((n, f) => n + f.size, 0);
    log.info({ ms: snap.durationMs, sqliteMs: snap.sqlite.durationMs, bytes: totalBytes, redis: snap.redis.status }, 'snapshot staged');
    const base = baseManifest(opts, snap, spec);
    const targets = await Promise.all(opts.targets.map((t) => backupToTarget(opts, t, snap, spec, base, progress, log)));
    return {
      ok: targets.every((t) => t.status !== 'failed'),
      kind: opts.kind,
      snapshot: {
        snapshotAt: snap.sqlite.snapshotAt,
        stagingMs: snap.durationMs,
        sqlite: { method: snap.sqlite.method, durationMs: snap.sqlite.durationMs, size: snap.sqlite.size },
        redis: snap.redis.status === 'ok' ? { status: 'ok', keys: snap.redis.keys, source: snap.redis.source } : { status: 'skipped', reason: snap.redis.reason },
        files: snap.files.length,
        totalBytes,
      },
      targets,
      notes: snap.notes,
    };
  } finally {
    staged?.remove();
    lock.release();
  }
}

type BaseManifest = Omit<TapstackManifest, 'id' | 'target' | 'files' | 'uploadedChunks' | 'uploadedBytes' | 'previous' | 'createdAt'>;

function baseManifest(opts: CreateOptions, snap: StagedSnapshot, spec: EncryptionSpec): BaseManifest {
  const redisVersion = snap.redis.status === 'ok' ? snap.redis.version : undefined;
  return {
    format: 'tapstack-backup/1',
    kind: opts.kind,
    snapshotAt: snap.sqlite.snapshotAt,
    installId: readInstallId(opts.config.dataDir),
    versions: { tapstack: tapstackVersion(), node: process.versions.node, sqlite: snap.sqlite.sqliteVersion, ...(redisVersion ? { redis: redisVersion } : {}) },
    schemaVersion: snap.sqlite.schemaVersion,
    ledger: snap.sqlite.ledger,
    encryption: { recipients: [...spec.recipients], passphrase: spec.passphrase !== undefined },
    chunkSize: opts.chunkSize ?? CHUNK_SIZE,
    sqlite: { method: snap.sqlite.method, durationMs: snap.sqlite.durationMs },
    ...(snap.redis.status === 'ok' && !snap.redis.unchecked ? { redis: { keys: snap.redis.keys, expires: snap.redis.expires, savedAt: snap.redis.savedAt } } : {}),
    notes: snap.notes,
  };
}

async function backupToTarget(
  opts: CreateOptions,
  t: TargetSettings,
  snap: StagedSnapshot,
  spec: EncryptionSpec,
  base: BaseManifest,
  progress: Progress,
  parentLog: Logger,
): Promise<TargetResult> {
  const log = parentLog.child({ target: t.name });
  const started = performance.now();
  const totalBytes = snap.files.reduce((n, f) => n + f.size, 0);
  const result: TargetResult = { target: t.name, status: 'failed', kind: opts.kind, totalBytes, uploadedChunks: 0, uploadedBytes: 0, reusedChunks: 0, healedChunks: 0, durationMs: 0, notes: [] };
  let target: Target | undefined;
  try {
    target = openTarget(t, { log, tmpDir: path.join(opts.config.backup.stagingDir, 'tmp') });
    const catalog = await loadCatalog(target);
    for (const d of catalog.damaged) result.notes.push(`ignored unreadable manifest ${d.key}: ${d.error}`);
    const manifests = catalog.entries.map((e) => e.manifest);
    const previous = manifests.at(-1);
    const encryption = { recipients: spec.recipients, passphrase: spec.passphrase !== undefined };
    const rekey = previous !== undefined && !sameEncryption(previous.encryption, encryption);
    if (rekey) result.notes.push('the encryption recipients changed since the previous backup: every chunk of this backup is encrypted and uploaded again');

    // The stored form of each chunk, as most recently recorded (newest manifest wins).
    const recorded = new Map<string, StoredInfo>();
    for (const m of manifests) for (const f of m.files) for (const c of f.chunks) recorded.set(c.sha256, c.stored);
    const known = knownChunks(manifests);
    const listed = new Map((await target.list('chunks/')).map((o) => [o.key, o.size]));

    // Each distinct chunk once, wherever it occurs.
    const unique = new Map<string, { file: string; offset: number; size: number }>();
    for (const f of snap.files) for (const c of f.chunks) if (!unique.has(c.sha256)) unique.set(c.sha256, { file: f.path, offset: c.offset, size: c.size });

    const toUpload: string[] = [];
    const toCheck: string[] = [];
    for (const sha of unique.keys()) {
      const size = listed.get(chunkKey(sha));
      const rec = recorded.get(sha);
      // Present = listed with a size some manifest recorded. A listed chunk no manifest knows is
      // garbage of an interrupted run (its key may be intact, but nothing vouches for it): overwrite.
      if (rekey || size === undefined || !rec || !known.get(sha)?.sizes.has(size)) toUpload.push(sha);
      else if (opts.kind === 'full') toCheck.push(sha);
      else result.reusedChunks += 1;
    }

    const stored = new Map<string, StoredInfo>();
    if (toCheck.length) {
      const bytes = toCheck.reduce((n, sha) => n + (recorded.get(sha)?.size ?? 0), 0);
      const task = progress.task(`${t.name}: read back`, bytes);
      await mapLimit(toCheck, opts.concurrency ?? 4, async (sha) => {
        const got = await hashObject(target as Target, chunkKey(sha)).catch(() => undefined);
        task.add(got?.size ?? 0);
        if (got && known.get(sha)?.hashes.has(got.sha256)) {
          stored.set(sha, got);
          result.reusedChunks += 1;
        } else {
          toUpload.push(sha);
          result.healedChunks += 1;
        }
      });
      task.done();
      if (result.healedChunks) result.notes.push(`${result.healedChunks} stored chunk(s) were missing or damaged and were uploaded again`);
    }

    if (previous && toUpload.length === 0 && sameContent(previous, { files: snap.files }) && !rekey) {
      result.status = 'unchanged';
      result.id = previous.id;
      result.notes.push(`nothing changed since backup ${previous.id}: nothing uploaded`);
      log.info({ since: previous.id }, 'unchanged since the previous backup: nothing uploaded');
      return result;
    }

    const uploadBytes = toUpload.reduce((n, sha) => n + (unique.get(sha)?.size ?? 0), 0);
    const task = progress.task(`${t.name}: upload`, uploadBytes);
    await mapLimit(toUpload, opts.concurrency ?? 4, async (sha) => {
      const where = unique.get(sha) as { file: string; offset: number; size: number };
      const plain = await readChunk(where.file, where.offset, where.size);
      const { ciphertext } = await encryptChunk(spec, plain);
      const info = await putVerified(target as Target, chunkKey(sha), ciphertext);
      stored.set(sha, info);
      result.uploadedChunks += 1;
      result.uploadedBytes += info.size;
      task.add(where.size);
      opts.onChunkUploaded?.(t.name, chunkKey(sha));
    });
    task.done(`${result.uploadedChunks} chunk(s) uploaded, ${result.reusedChunks} already there`);

    const now = (opts.now ?? Date.now)();
    const id = newBackupId(opts.kind, now);
    const chunkInfo = (sha: string): ManifestChunk['stored'] => {
      const s = stored.get(sha) ?? recorded.get(sha);
      if (!s) throw new Error(`internal: no stored form for chunk ${sha}`);
      return s;
    };
    const manifest: TapstackManifest = {
      ...base,
      id,
      createdAt: new Date(now).toISOString(),
      target: t.name,
      ...(previous ? { previous: previous.id } : {}),
      files: snap.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, mode: f.mode, chunks: f.chunks.map((c) => ({ sha256: c.sha256, size: c.size, stored: chunkInfo(c.sha256) })) })),
      uploadedChunks: result.uploadedChunks,
      uploadedBytes: result.uploadedBytes,
      notes: [...base.notes, ...result.notes],
    };
    await putVerified(target, manifestKey(id), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    result.status = 'created';
    result.id = id;
    log.info({ id, uploadedChunks: result.uploadedChunks, uploadedBytes: result.uploadedBytes, reused: result.reusedChunks }, 'backup created');
    return result;
  } catch (err) {
    const e = err as { code?: unknown };
    result.error = { code: typeof e.code === 'string' ? e.code : 'failed', message: describeError(err) };
    log.error({ err: result.error }, 'backup to target failed');
    return result;
  } finally {
    result.durationMs = Math.round(performance.now() - started);
    await closeTarget(target);
  }
}

function readInstallId(dataDir: string): string {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dataDir, '.tapstack-volume.json'), 'utf8')) as { installId?: unknown };
    return typeof m.installId === 'string' ? m.installId : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The version in package.json of this build (dist/backup/engine → three levels up). */
export function tapstackVersion(): string {
  try {
    const file = new URL('../../../package.json', import.meta.url);
    return String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

export { BackupError };
