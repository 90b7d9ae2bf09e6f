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
import { CHUNK_SIZE, chunkKey, MANIFEST_FORMAT, newBackupId, type ManifestChunk, type TapstackManifest } from '../snapshot/manifest.js';
import { cleanStaleStaging, readChunk, stageSnapshot, type StagedSnapshot } from '../snapshot/staging.js';
import type { SqliteSnapshotMethod } from '../snapshot/sqlite.js';
import { knownChunks, loadCatalog } from './catalog.js';
import { ensureInstallKeys, type InstallKeys } from './install-keys.js';
import { contentIdOf, storeDedupKey, writeSignedManifest } from './seal.js';
import { BackupError, describeError } from './errors.js';
import { encryptionSpec, sameEncryption } from './encryption-spec.js';
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
    // Before the snapshot, so a first backup's new keys are inside it (<data>/secrets).
    const keys = ensureInstallKeys(opts.config.dataDir);
    if (keys.created.length) log.warn({ created: keys.created, signingKey: keys.publicKey }, 'created the backup dedup and signing keys of this installation');
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
      dedupKey: keys.dedupKey,
    });
    const snap = staged;
    const totalBytes = snap.files.reduce((n, f) => n + f.size, 0);
    log.info({ ms: snap.durationMs, sqliteMs: snap.sqlite.durationMs, bytes: totalBytes, redis: snap.redis.status }, 'snapshot staged');
    const base = baseManifest(opts, snap, spec, keys);
    const targets = await Promise.all(opts.targets.map((t) => backupToTarget(opts, t, snap, spec, keys, base, progress, log)));
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

function baseManifest(opts: CreateOptions, snap: StagedSnapshot, spec: EncryptionSpec, keys: InstallKeys): BaseManifest {
  const redisVersion = snap.redis.status === 'ok' ? snap.redis.version : undefined;
  return {
    format: MANIFEST_FORMAT,
    kind: opts.kind,
    dedupKeyId: keys.dedupKeyId,
    contentId: contentIdOf(keys.dedupKey, snap.files),
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

/** One backup of the staged snapshot to one target; never throws (a failure is the result). */
async function backupToTarget(
  opts: CreateOptions,
  t: TargetSettings,
  snap: StagedSnapshot,
  spec: EncryptionSpec,
  keys: InstallKeys,
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
    const run: TargetRun = { opts, name: t.name, target, spec, keys, progress, result };
    const { good, previous, rekey } = await readPrevious(run);
    await storeDedupKey(target, keys, spec, rekey);
    const plan = await planChunks(run, snap, good, rekey);
    const stored = await readBack(run, plan);

    if (previous && plan.toUpload.length === 0 && previous.contentId === base.contentId && !rekey) {
      result.status = 'unchanged';
      result.id = previous.id;
      result.notes.push(`nothing changed since backup ${previous.id}: nothing uploaded`);
      log.info({ since: previous.id }, 'unchanged since the previous backup: nothing uploaded');
      return result;
    }

    await uploadChunks(run, plan, stored);
    result.id = await writeManifest(run, snap, base, previous, (key) => stored.get(key) ?? plan.recorded.get(key));
    result.status = 'created';
    log.info({ id: result.id, uploadedChunks: result.uploadedChunks, uploadedBytes: result.uploadedBytes, reused: result.reusedChunks }, 'backup created');
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

/** What every step of one target's backup shares; the steps add to `result`. */
interface TargetRun {
  opts: CreateOptions;
  name: string;
  target: Target;
  spec: EncryptionSpec;
  keys: InstallKeys;
  progress: Progress;
  result: TargetResult;
}

type CatalogEntry = Awaited<ReturnType<typeof loadCatalog>>['entries'][number];
type ChunkPlace = { file: string; offset: number; size: number };

interface ChunkPlan {
  /** Each distinct chunk once, wherever it occurs, by the object it is stored as. */
  unique: Map<string, ChunkPlace>;
  /** The stored form of each chunk object, as most recently recorded (newest backup wins). */
  recorded: Map<string, StoredInfo>;
  known: ReturnType<typeof knownChunks>;
  toUpload: string[];
  /** Present chunks a full backup reads back before trusting them. */
  toCheck: string[];
}

/** The target's trusted backups, the newest of them, and whether the encryption changed since. */
async function readPrevious(run: TargetRun): Promise<{ good: CatalogEntry[]; previous: CatalogEntry['summary'] | undefined; rekey: boolean }> {
  const { result, keys, spec } = run;
  // Our own key is the trusted one: a manifest someone planted is never taken as "previous".
  const catalog = await loadCatalog(run.target, { trust: { keys: [keys.publicKey], source: 'this installation' } });
  for (const d of catalog.damaged) result.notes.push(`ignored unreadable manifest ${d.key}: ${d.error}`);
  const good = catalog.entries.filter((e) => e.signature !== 'bad');
  for (const e of catalog.entries) if (e.signature === 'bad') result.notes.push(`ignored backup ${e.id}: its signature does not verify against this installation's signing key (planted, or from another installation)`);
  const previous = good.at(-1)?.summary;
  const encryption = { recipients: spec.recipients, passphrase: spec.passphrase !== undefined };
  const rekey = previous !== undefined && !sameEncryption(previous.encryption, encryption);
  if (rekey) result.notes.push('the encryption recipients changed since the previous backup: every chunk of this backup is encrypted and uploaded again');
  if (good.length && !good.some((e) => e.summary.dedupKeyId === keys.dedupKeyId)) {
    result.notes.push(
      good.some((e) => e.summary.format === MANIFEST_FORMAT)
        ? 'the dedup key changed since the previous backup: every chunk is uploaded again under its new keyed name (once)'
        : 'first format-2 backup on this target: chunks are now stored under keyed names, so every chunk is uploaded again, once; the format-1 chunks stay until prune retires the format-1 backups',
    );
  }
  return { good, previous, rekey };
}

/** Which chunks to upload, which to read back (full), which to reuse as they are (incremental). */
async function planChunks(run: TargetRun, snap: StagedSnapshot, good: CatalogEntry[], rekey: boolean): Promise<ChunkPlan> {
  const recorded = new Map<string, StoredInfo>();
  for (const e of good) for (const [key, stored] of e.summary.objects) recorded.set(key, stored);
  const known = knownChunks(good);
  const listed = new Map((await run.target.list('chunks/')).map((o) => [o.key, o.size]));
  const unique = new Map<string, ChunkPlace>();
  for (const f of snap.files) for (const c of f.chunks) if (!unique.has(objectOf(c))) unique.set(objectOf(c), { file: f.path, offset: c.offset, size: c.size });

  const toUpload: string[] = [];
  const toCheck: string[] = [];
  for (const key of unique.keys()) {
    const size = listed.get(key);
    const rec = recorded.get(key);
    // Present = listed with a size some manifest recorded. A listed chunk no manifest knows is
    // garbage of an interrupted run (its key may be intact, but nothing vouches for it): overwrite.
    if (rekey || size === undefined || !rec || !known.get(key)?.sizes.has(size)) toUpload.push(key);
    else if (run.opts.kind === 'full') toCheck.push(key);
    else run.result.reusedChunks += 1;
  }
  return { unique, recorded, known, toUpload, toCheck };
}

/** Read back the chunks to check: a good one is reused, a missing or damaged one joins the uploads. */
async function readBack(run: TargetRun, plan: ChunkPlan): Promise<Map<string, StoredInfo>> {
  const { result } = run;
  const stored = new Map<string, StoredInfo>();
  if (!plan.toCheck.length) return stored;
  const bytes = plan.toCheck.reduce((n, sha) => n + (plan.recorded.get(sha)?.size ?? 0), 0);
  const task = run.progress.task(`${run.name}: read back`, bytes);
  await mapLimit(plan.toCheck, run.opts.concurrency ?? 4, async (key) => {
    const got = await hashObject(run.target, key).catch(() => undefined);
    task.add(got?.size ?? 0);
    if (got && plan.known.get(key)?.hashes.has(got.sha256)) {
      stored.set(key, got);
      result.reusedChunks += 1;
    } else {
      plan.toUpload.push(key);
      result.healedChunks += 1;
    }
  });
  task.done();
  if (result.healedChunks) result.notes.push(`${result.healedChunks} stored chunk(s) were missing or damaged and were uploaded again`);
  return stored;
}

/** Encrypt and upload (verified) every chunk to upload, recording its stored form in `stored`. */
async function uploadChunks(run: TargetRun, plan: ChunkPlan, stored: Map<string, StoredInfo>): Promise<void> {
  const { result } = run;
  const uploadBytes = plan.toUpload.reduce((n, sha) => n + (plan.unique.get(sha)?.size ?? 0), 0);
  const task = run.progress.task(`${run.name}: upload`, uploadBytes);
  await mapLimit(plan.toUpload, run.opts.concurrency ?? 4, async (key) => {
    const where = plan.unique.get(key) as ChunkPlace;
    const plain = await readChunk(where.file, where.offset, where.size);
    const { ciphertext } = await encryptChunk(run.spec, plain);
    const info = await putVerified(run.target, key, ciphertext);
    stored.set(key, info);
    result.uploadedChunks += 1;
    result.uploadedBytes += info.size;
    task.add(where.size);
    run.opts.onChunkUploaded?.(run.name, key);
  });
  task.done(`${result.uploadedChunks} chunk(s) uploaded, ${result.reusedChunks} already there`);
}

/** The signed manifest of this backup, written last (the backup exists once it is there); its id. */
async function writeManifest(
  run: TargetRun,
  snap: StagedSnapshot,
  base: BaseManifest,
  previous: CatalogEntry['summary'] | undefined,
  storedForm: (key: string) => StoredInfo | undefined,
): Promise<string> {
  const { result } = run;
  const now = (run.opts.now ?? Date.now)();
  const id = newBackupId(run.opts.kind, now);
  const chunkInfo = (key: string): ManifestChunk['stored'] => {
    const s = storedForm(key);
    if (!s) throw new Error(`internal: no stored form for chunk ${key}`);
    return s;
  };
  const manifest: TapstackManifest = {
    ...base,
    id,
    createdAt: new Date(now).toISOString(),
    target: run.name,
    ...(previous ? { previous: previous.id } : {}),
    files: snap.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, mode: f.mode, chunks: f.chunks.map((c) => ({ sha256: c.sha256, id: c.id, size: c.size, stored: chunkInfo(objectOf(c)) })) })),
    uploadedChunks: result.uploadedChunks,
    uploadedBytes: result.uploadedBytes,
    notes: [...base.notes, ...result.notes],
  };
  await writeSignedManifest(run.target, manifest, run.spec, run.keys);
  return id;
}

/** Staged with the dedup key, every chunk has its keyed id. */
function objectOf(c: { id?: string; sha256: string }): string {
  if (!c.id) throw new Error('internal: chunk staged without a keyed id');
  return chunkKey(c.id);
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
