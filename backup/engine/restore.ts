/**
 * `backup restore [--at T] [--dry-run]`: pick a backup (the newest, or the newest whose snapshot is
 * not after T), then — never under a running app — download and decrypt it into a temp dir inside
 * the data directory, check everything there (hashes, SQLite integrity, ledger, RDB), and only then
 * swap it in file by file with rename(2), moving what it replaces to a rollback directory
 * (`<data>.pre-restore-<time>`, or `<data>/.pre-restore-<time>` when the data directory is a mount
 * point that cannot have siblings on its volume). Then migrations and the ledger integrity check.
 *
 * Point in time: full snapshots give the base (`snapshotAt ≤ T`). backup/wal extends this with
 * continuous segments through `PointInTimeExtension` (window + replay onto the restored copy before
 * the swap); without it, the restore is the base snapshot and the plan says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../services/shared/config.js';
import { openDb } from '../../services/shared/db/database.js';
import { migrate } from '../../services/shared/db/migrate.js';
import { MIGRATIONS } from '../../services/shared/db/migrations/index.js';
import { checkIntegrity, type IntegrityReport } from '../../services/shared/integrity.js';
import type { Logger } from '../../services/shared/logger.js';
import type { DecryptionSpec, Target } from '../contracts.js';
import { DB_NAME, RDB_NAME, restorePath } from '../snapshot/files.js';
import { compactTime, manifestSize, type TapstackManifest } from '../snapshot/manifest.js';
import { knownChunks, loadCatalog, openEntry, pickBackup, requireSignature, type Catalog, type CatalogEntry } from './catalog.js';
import { drillChecks } from './drill.js';
import { BackupError, describeError } from './errors.js';
import type { SigningTrust } from './encryption-spec.js';
import { acquireBackupLock, scratchDir } from './lock.js';
import { materialize } from './materialize.js';
import { silentProgress, type Progress } from './progress.js';
import { APP_PROGRAMS, inspectApp, runningReasons, startPrograms, stopPrograms } from './services.js';
import type { TargetSettings } from './settings.js';
import { rollbackLocation, swapIn } from './swap.js';
import { closeTarget, openTarget } from './targets.js';

/**
 * Why a point-in-time restore stops short of the requested time (backup/wal `WalShortfall`): a
 * missing or damaged segment, or a gap between WAL generations. Without --accept-gap such a
 * restore fails naming it; with it, the restore is `reachedAt` and the report carries this.
 */
export interface Shortfall {
  kind: string;
  requestedAt: number;
  reachedAt: number;
  lostFrom: number;
  lostUntil: number | null;
  reason: string;
  generation?: string;
  missing?: { from: number; to: number | null };
}

/** The hook backup/wal implements for restores to any second (continuous mode). */
export interface PointInTimeExtension {
  /** The span continuous segments cover on this target, if any. */
  window(target: Target, catalog: Catalog): Promise<{ from: number; to: number } | undefined>;
  /** What `replay` would reach from this snapshot (no download): for the plan and --dry-run. */
  preview?(target: Target, base: { snapshotAt: number }, at: number): Promise<{ restoresTo: number; shortfall?: Shortfall; note?: string }>;
  /**
   * Replay committed changes up to `at` onto `dbFile` (the restored copy). Throws (code = the
   * shortfall's kind) when it cannot reach `at`, after replaying all it can, unless `acceptGap`.
   */
  replay(target: Target, base: { snapshotAt: number }, dbFile: string, at: number, spec: DecryptionSpec, opts?: { acceptGap?: boolean }): Promise<{ replayedUntil: number; segments: number; shortfall?: Shortfall; note?: string }>;
}

export interface RestoreOptions {
  config: Config;
  log: Logger;
  /** Candidate targets (the one named by --target, or every enabled one). */
  targets: TargetSettings[];
  backupId?: string;
  at?: number;
  dryRun: boolean;
  spec?: DecryptionSpec;
  /** Signing keys a format-2 manifest must verify against (--signing-key, or the installation's). */
  trust?: SigningTrust;
  /** --allow-unsigned: also restore a format-1 (unsigned) backup. */
  allowUnsigned?: boolean;
  stopServices: boolean;
  /** Skip the "app is running" heartbeat check (not supervisord's). */
  force: boolean;
  runDir: string;
  backupConfigFile: string;
  progress?: Progress;
  pitr?: PointInTimeExtension;
  /** --accept-gap: restore to the last point the WAL chain reaches when it cannot reach `at`. */
  acceptGap?: boolean;
  /** --restore-config: also put the backup's copy of the backup config in place (default: keep the operator's). */
  restoreConfig?: boolean;
  /** Called after the swap and migrations, before programs are started again (the CLI re-runs setup). */
  afterSwap?: () => Promise<void> | void;
  now?: () => number;
}

export interface RestorePlan {
  target: string;
  backup: { id: string; format: string; signature: CatalogEntry['signature']; kind: string; createdAt: string; snapshotAt: number; size: number; schemaVersion?: number; ledger?: TapstackManifest['ledger']; verified?: { ok: boolean; at: number; level: string } };
  requestedAt?: number;
  /** The state restored (exact after the restore; before it, an upper bound). */
  restoresTo: number;
  /** Set when the backups cannot reach `requestedAt` (see Shortfall). */
  shortfall?: Shortfall;
  windows: { target: string; from?: number; to?: number; backups: number; continuous?: { from: number; to: number }; error?: string }[];
  /** Where each file goes; none for one left out (`kept`: the current file stays, e.g. the backup config). */
  files: { name: string; size: number; dest?: string; kept?: string }[];
  dataDir: string;
  rollbackDir: string;
  steps: string[];
  warnings: string[];
}

export interface RestoreReport {
  plan: RestorePlan;
  done: boolean;
  moved: { name: string; from: string; to: string }[];
  migrationsApplied: number[];
  integrity?: Pick<IntegrityReport, 'ok' | 'rows' | 'accounts' | 'head' | 'problemCount'>;
  restartedPrograms: string[];
  /** Set when --accept-gap restored to `shortfall.reachedAt`, short of the requested time. */
  shortfall?: Shortfall;
  warnings: string[];
}

interface Chosen {
  target: Target;
  settings: TargetSettings;
  catalog: Catalog;
  entry: CatalogEntry;
  /** The opened manifest: absent only in a key-less dry run of a format-2 backup. */
  manifest?: TapstackManifest;
}

export async function restoreBackup(o: RestoreOptions): Promise<RestoreReport> {
  const lock = await acquireBackupLock(o.config.dataDir, { waitMs: 0 });
  const opened: Target[] = [];
  try {
    const { plan, chosen } = await makePlan(o, opened);
    const report: RestoreReport = { plan, done: false, moved: [], migrationsApplied: [], restartedPrograms: [], warnings: [...plan.warnings] };
    if (o.dryRun) return report;
    return await execute(o, plan, chosen, report);
  } finally {
    for (const t of opened) await closeTarget(t);
    lock.release();
  }
}

async function makePlan(o: RestoreOptions, opened: Target[]): Promise<{ plan: RestorePlan; chosen: Chosen }> {
  const log = o.log.child({ module: 'backup-restore' });
  const windows: RestorePlan['windows'] = [];
  let chosen: Chosen | undefined;
  for (const t of o.targets) {
    try {
      const target = openTarget(t, { log, tmpDir: path.join(scratchDir(o.config), 'tmp') });
      opened.push(target);
      const catalog = await loadCatalog(target, { trust: o.trust });
      const snaps = catalog.entries.map((e) => e.summary.snapshotAt);
      const continuous = o.pitr ? await o.pitr.window(target, catalog) : undefined;
      windows.push({ target: t.name, from: snaps[0], to: snaps.at(-1), backups: snaps.length, ...(continuous ? { continuous } : {}) });
      const entry = o.backupId ? catalog.entries.find((e) => e.id === o.backupId) : pickBackup(catalog.entries, o.at);
      if (entry && (!chosen || entry.summary.snapshotAt > chosen.entry.summary.snapshotAt)) chosen = { target, settings: t, catalog, entry };
    } catch (err) {
      windows.push({ target: t.name, backups: 0, error: describeError(err) });
    }
  }
  if (!chosen) {
    const span = windows.map((w) => (w.error ? `${w.target}: ${w.error}` : w.backups ? `${w.target}: ${iso(w.from)} .. ${iso(w.to)} (${w.backups} backups)` : `${w.target}: no backups`)).join('; ');
    if (o.backupId) throw new BackupError('unknown-backup', `no target holds backup ${o.backupId} (${span})`);
    throw new BackupError('no-backup', o.at === undefined ? `no backup to restore (${span})` : `no backup taken at or before ${iso(o.at)}; available: ${span}`);
  }
  // The signature before anything from the backup is used; then its sealed part (needs the key).
  if (o.spec) chosen.manifest = await openEntry(chosen.target, chosen.entry, { spec: o.spec, trust: o.trust, unsigned: o.allowUnsigned ? 'allow' : 'refuse' });
  else if (chosen.entry.signed) {
    if (o.trust) requireSignature(chosen.target, chosen.entry, o.trust);
  } else chosen.manifest = chosen.entry.manifest;
  const m = chosen.manifest;
  const sum = chosen.entry.summary;
  const rollbackDir = rollbackLocation(o.config.dataDir, compactTime((o.now ?? Date.now)()));
  // The operator's backup config is the one that knows the surviving targets: keep it, unless
  // --restore-config (or there is none yet, e.g. a fresh host).
  const keepConfig = !o.restoreConfig && fs.existsSync(o.backupConfigFile);
  const files = (m?.files ?? []).map((f) => ({ name: f.name, size: f.size, dest: f.name === 'config/backup.json' && keepConfig ? undefined : restorePath(f.name, o.config, o.backupConfigFile), ...(f.name === 'config/backup.json' && keepConfig ? { kept: o.backupConfigFile } : {}) }));
  const warnings: string[] = [];
  if (!m) warnings.push(`the file list, schema version and ledger head of ${sum.id} are in its encrypted manifest: give --identity to see them`);
  if (!chosen.entry.signed) warnings.push(`${sum.id} is a format-1 backup: unsigned${o.allowUnsigned ? ' (--allow-unsigned)' : '; restoring it needs --allow-unsigned'}`);
  else if (chosen.entry.signature === 'unchecked' && !o.spec) warnings.push(`the signature of ${sum.id} was not checked: no trusted signing key (--signing-key); the restore itself checks it`);
  for (const f of files) if (!f.dest && !('kept' in f)) warnings.push(`${f.name}: not known to this version, left out`);
  const latest = MIGRATIONS.at(-1)?.id ?? 0;
  if (m && m.schemaVersion > latest) warnings.push(`the backup's schema ${m.schemaVersion} is newer than this build's ${latest}: restore it with a Tapstack at least as new as ${m.versions.tapstack}`);
  if (o.at !== undefined && !o.pitr && o.at > sum.snapshotAt) {
    warnings.push(`no continuous (WAL) backup: restoring the snapshot of ${iso(sum.snapshotAt)}, ${Math.round((o.at - sum.snapshotAt) / 1000)} s before the requested ${iso(o.at)}`);
  }
  let restoresTo = sum.snapshotAt;
  let shortfall: Shortfall | undefined;
  if (o.at !== undefined && o.pitr?.preview) {
    const p = await o.pitr.preview(chosen.target, sum, o.at);
    restoresTo = p.restoresTo;
    if (p.note) warnings.push(p.note);
    if (p.shortfall) {
      shortfall = p.shortfall;
      warnings.push(`${describeShortfall(p.shortfall)}: ${o.acceptGap ? `--accept-gap: the restore stops at about ${iso(p.shortfall.reachedAt)}` : `the restore will replay up to about ${iso(p.shortfall.reachedAt)} and then FAIL (pass --accept-gap to restore to that point)`}`);
    }
  }
  if (files.some((f) => f.name === 'config/backup.json')) {
    if (keepConfig) warnings.push(`the current backup config ${o.backupConfigFile} is kept (the backup's copy is not restored; --restore-config restores it)`);
    else if (o.restoreConfig && fs.existsSync(o.backupConfigFile)) warnings.push(`--restore-config: the backup's copy of the backup config replaces ${o.backupConfigFile} (the current one goes to the rollback directory)`);
  }
  if (chosen.entry.verify && !chosen.entry.verify.ok) warnings.push(`the last verification of ${sum.id} failed: ${chosen.entry.verify.problems.slice(0, 3).join('; ')}`);
  const steps = [
    `check that the app is not running${o.stopServices ? ' (stop the AIO programs through supervisord)' : ''}`,
    `download and decrypt ${m ? m.files.length : 'its'} files (${m ? manifestSize(m) : sum.size} bytes) from ${chosen.settings.name} into ${path.join(o.config.dataDir, '.restore-<time>')}`,
    'verify every file (SHA-256), PRAGMA integrity_check, the ledger hash chain and head, redis-check-rdb',
    ...(o.pitr && o.at !== undefined ? [`replay continuous changes up to ${iso(o.at)}`] : []),
    `move the files it replaces (and tapstack.db-wal/-shm, redis/appendonlydir) to ${rollbackDir}`,
    'rename the restored files into place; rebuild Redis\'s AOF from the restored RDB',
    'run migrations and the ledger integrity check',
    ...(o.stopServices ? ['start the programs again'] : []),
  ];
  const plan: RestorePlan = {
    target: chosen.settings.name,
    backup: {
      id: sum.id,
      format: sum.format,
      signature: chosen.entry.signature,
      kind: sum.kind,
      createdAt: sum.createdAt,
      snapshotAt: sum.snapshotAt,
      size: sum.size,
      ...(m ? { schemaVersion: m.schemaVersion, ledger: m.ledger } : {}),
      ...(chosen.entry.verify ? { verified: { ok: chosen.entry.verify.ok, at: chosen.entry.verify.at, level: chosen.entry.verify.level } } : {}),
    },
    ...(o.at !== undefined ? { requestedAt: o.at } : {}),
    restoresTo,
    ...(shortfall ? { shortfall } : {}),
    windows,
    files,
    dataDir: o.config.dataDir,
    rollbackDir,
    steps,
    warnings,
  };
  return { plan, chosen };
}

async function execute(o: RestoreOptions, plan: RestorePlan, chosen: Chosen, report: RestoreReport): Promise<RestoreReport> {
  const log = o.log.child({ module: 'backup-restore' });
  const progress = o.progress ?? silentProgress;
  const m = chosen.manifest;
  if (!o.spec || !m) throw new BackupError('no-identity', 'restore needs the key that decrypts the backups (--identity FILE or TAPSTACK_BACKUP_IDENTITY_FILE)', 2);
  const latest = MIGRATIONS.at(-1)?.id ?? 0;
  if (m.schemaVersion > latest) throw new BackupError('backup-newer-than-build', plan.warnings.find((w) => w.includes('newer than this build')) ?? 'backup schema newer than this build', 1);

  const stopped: string[] = [];
  try {
    await stopAndRefuseIfRunning(o, m, progress, stopped);
    await restoreFiles(o, o.spec, plan, chosen, m, progress, report);
    migrateAndProve(o, report);
    fs.writeFileSync(path.join(plan.rollbackDir, 'restore-report.json'), `${JSON.stringify({ ...report, done: true }, null, 2)}\n`, { mode: 0o600 });
    await o.afterSwap?.();
    report.done = true;
    log.info({ id: m.id, target: plan.target, rollback: plan.rollbackDir, head: report.integrity?.head }, 'restore complete');
  } finally {
    if (stopped.length && o.stopServices) await restartStopped(o, stopped, report);
  }
  return report;
}

type Manifest = NonNullable<Chosen['manifest']>;

/**
 * Step 1: nobody may be using this data directory (services.ts says what counts as evidence).
 * With --stop-services the AIO programs are stopped first; each is added to `stopped` before the
 * call, so a stop that fails half-way still restarts them.
 */
async function stopAndRefuseIfRunning(o: RestoreOptions, m: Manifest, progress: Progress, stopped: string[]): Promise<void> {
  const where = {
    dataDir: o.config.dataDir,
    dbFile: o.config.dbFile,
    runDir: o.runDir,
    alsoDirs: [o.config.appliance.tlsDir],
    // Not replaced by a restore: supervisord's logs and sockets, nginx's temp files, our scratch space.
    ignoreDirs: [o.runDir, scratchDir(o.config)],
  };
  const state = await inspectApp(where);
  if (o.stopServices && state.supervisor.reachable) {
    const names: string[] = [...APP_PROGRAMS].filter((p) => state.supervisor.running.includes(p));
    if (m.files.some((f) => f.name === RDB_NAME) && state.supervisor.redisRunning) names.push('redis'); // after its clients
    if (names.length) {
      progress.note(`stopping ${names.join(', ')} through supervisord...`);
      stopped.push(...names);
      await stopPrograms(o.runDir, names);
    }
  }
  const after = stopped.length ? await inspectApp(where) : state;
  const { blocking, overridable } = runningReasons(after, { trustSupervisor: stopped.length > 0 || after.supervisor.reachable });
  // --force overrides only what may be stale (heartbeats, a working directory), never a process
  // that has the files open, a held lock or supervisord.
  const reasons = o.force ? blocking : [...blocking, ...overridable];
  if (reasons.length) {
    const hint = blocking.length
      ? 'stop it first (AIO: add --stop-services; compose: `docker compose stop` the app services)'
      : 'stop it first if it runs elsewhere (compose: `docker compose stop` the app services), or pass --force if these records are stale';
    throw new BackupError('app-running', `refusing to restore while the app may be running on ${o.config.dataDir} (${reasons.join('; ')}): ${hint}`, 1, { blocking, overridable });
  }
}

/** Steps 2-4: decrypt into a temp dir on the data volume, check it (and replay the WAL), swap it in. */
async function restoreFiles(o: RestoreOptions, spec: DecryptionSpec, plan: RestorePlan, chosen: Chosen, m: Manifest, progress: Progress, report: RestoreReport): Promise<void> {
  // Same filesystem as the data: the swap is rename(2).
  fs.mkdirSync(o.config.dataDir, { recursive: true, mode: 0o700 });
  // Left by an interrupted restore (we hold the lock: nobody else is using them).
  for (const e of fs.readdirSync(o.config.dataDir)) if (/^\.restore-\d{8}T\d{6}Z$/.test(e)) fs.rmSync(path.join(o.config.dataDir, e), { recursive: true, force: true });
  const tmp = path.join(o.config.dataDir, `.restore-${compactTime(Date.now())}`);
  fs.mkdirSync(tmp, { mode: 0o700 });
  try {
    const known = knownChunks(chosen.catalog.entries);
    await materialize({ target: chosen.target, manifest: m, known, spec, destDir: tmp, progress, onProblem: 'throw', only: (n) => plan.files.some((f) => f.name === n && f.dest !== undefined) });

    // 3. Check the restored copy as the drill does, before it replaces anything.
    progress.note('checking the restored copy (integrity_check, ledger hash chain, RDB)...');
    const drill = await drillChecks(tmp, m);
    if (!drill.ok) throw new BackupError('restored-copy-failed-checks', `the restored copy of ${m.id} failed its checks; nothing was changed: ${drill.problems.join('; ')}`);
    if (o.pitr && o.at !== undefined) await replayWal(o, o.pitr, o.at, spec, plan, chosen, m, tmp, progress, report);

    // 4. Swap, keeping what is replaced.
    progress.note(`swapping files; the previous ones go to ${plan.rollbackDir}`);
    swapIn(o, plan, tmp, m, report);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Point in time: replay the continuous (WAL) changes onto the restored copy up to `at`. */
async function replayWal(
  o: RestoreOptions,
  pitr: NonNullable<RestoreOptions['pitr']>,
  at: number,
  spec: DecryptionSpec,
  plan: RestorePlan,
  chosen: Chosen,
  m: Manifest,
  tmp: string,
  progress: Progress,
  report: RestoreReport,
): Promise<void> {
  progress.note(`replaying continuous (WAL) changes up to ${iso(at)}...`);
  // Fails here (nothing swapped yet) when the chain cannot reach --at, unless --accept-gap.
  const r = await pitr.replay(chosen.target, m, path.join(tmp, DB_NAME), at, spec, { acceptGap: Boolean(o.acceptGap) });
  plan.restoresTo = r.replayedUntil;
  delete plan.shortfall;
  report.warnings = report.warnings.filter((w) => !/^(the WAL chain|a WAL|the requested time)/.test(w));
  if (r.shortfall) {
    plan.shortfall = r.shortfall;
    report.shortfall = r.shortfall;
    report.warnings.push(`PARTIAL RESTORE (--accept-gap): restored the state of ${iso(r.shortfall.reachedAt)}, not the requested ${iso(at)}: ${describeShortfall(r.shortfall)}`);
  }
}

/** Step 5: bring the schema up to this build, then prove the ledger. */
function migrateAndProve(o: RestoreOptions, report: RestoreReport): void {
  const db = openDb(o.config.dbFile, { synchronous: o.config.sqlite.synchronous });
  try {
    report.migrationsApplied = migrate(db);
    const integrity = checkIntegrity(db);
    report.integrity = { ok: integrity.ok, rows: integrity.rows, accounts: integrity.accounts, head: integrity.head, problemCount: integrity.problemCount };
    if (!integrity.ok) report.warnings.push(`the ledger integrity check of the restored database found ${integrity.problemCount} problem(s): run \`tapstack integrity check\``);
    db.checkpoint();
  } finally {
    db.close();
  }
}

/** Start again what --stop-services stopped (Redis first, before its clients). */
async function restartStopped(o: RestoreOptions, stopped: string[], report: RestoreReport): Promise<void> {
  const order = stopped.includes('redis') ? ['redis', ...stopped.filter((p) => p !== 'redis')] : stopped;
  const failed = await startPrograms(o.runDir, order);
  report.restartedPrograms = stopped.filter((p) => !failed.some((f) => f.startsWith(`${p}:`)));
  for (const f of failed) report.warnings.push(`could not start ${f}`);
}

const iso = (ms: number | undefined) => (ms === undefined ? '?' : new Date(ms).toISOString());

/** One line naming a shortfall: what is missing and which commits it held. */
export function describeShortfall(s: Shortfall): string {
  const missing = s.missing;
  const segs = missing ? (missing.from === missing.to ? `segment ${missing.from}` : `segments ${missing.from}-${missing.to ?? '?'}`) : '';
  const what =
    s.kind === 'in-gap'
      ? 'the requested time falls in a gap of the WAL backups'
      : s.kind === 'corrupt-segment'
        ? `the WAL chain has a damaged ${segs} in generation ${String(s.generation)}`
        : `the WAL chain has a hole: ${segs} of generation ${String(s.generation)} missing`;
  return `${what} (${s.reason}); changes committed from ${iso(s.lostFrom)}${s.lostUntil === null ? ' on' : ` until ${iso(s.lostUntil)}`} are not in the backup`;
}
