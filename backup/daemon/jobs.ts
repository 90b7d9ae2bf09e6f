/**
 * The backup scheduler's logic: node-cron tasks (UTC) per target for full and incremental backups,
 * one for the restore drill; runs are serialized here and behind the data-dir lock against the CLI.
 * Targets due at the same minute share one snapshot. After each backup run the targets it touched
 * are pruned by their retention. Metrics are restored from the targets at start-up, so a restart
 * does not blank "last success".
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../../services/shared/config.js';
import type { Logger } from '../../services/shared/logger.js';
import { isVerified, loadCatalog } from '../engine/catalog.js';
import { createBackup, type BackupKind } from '../engine/create.js';
import { describeError } from '../engine/errors.js';
import { decryptionSpec, signingTrust } from '../engine/encryption-spec.js';
import { pruneTargets } from '../engine/prune.js';
import { loadBackupSettings, type BackupSettings, type TargetSettings } from '../engine/settings.js';
import { closeTarget, openTarget } from '../engine/targets.js';
import { verifyBackups } from '../engine/verify.js';
import type { BackupMetrics } from './metrics.js';

export interface SchedulerDeps {
  config: Config;
  log: Logger;
  metrics: BackupMetrics;
  /** Wait this long for the lock when the CLI holds it (default 10 min). */
  lockWaitMs?: number;
}

export function createBackupScheduler(deps: SchedulerDeps) {
  const log = deps.log.child({ module: 'backup-scheduler' });
  const tasks: ScheduledTask[] = [];
  let settings: BackupSettings = { file: '', targets: [], drill: '' };
  let configError: string | undefined;
  const enabled = () => settings.targets.filter((t) => t.enabled);
  const jobs = createJobChain(deps.metrics, log);
  const backups = (kind: BackupKind, targets: TargetSettings[]) => () => runBackups(deps, kind, targets);
  const drill = () => runDrill(deps, log, enabled());
  const due = createDueBatcher((name) => settings.targets.find((x) => x.name === name), (kind, targets) => void jobs.enqueue(`${kind} backup`, backups(kind, targets)));

  return {
    start() {
      try {
        settings = loadBackupSettings(deps.config.backup.configFile);
        deps.metrics.configValid.set(1);
      } catch (err) {
        configError = describeError(err);
        deps.metrics.configValid.set(0);
        log.error({ err: (err as Error).message }, 'invalid backup config: nothing scheduled until it is fixed (the health listener restarts this program, which re-reads it)');
        return;
      }
      if (settings.targets.length === 0) log.warn({ file: deps.config.backup.configFile }, 'no backup config: no backups are scheduled');
      tasks.push(...scheduleTasks(settings, due.add, () => void jobs.enqueue('drill', drill)));
      for (const task of tasks) log.info({ task: task.name, cron: task.getPattern(), next: task.getNextRun() }, 'scheduled');
      void jobs.enqueue('restore metrics', () => restoreMetrics(deps, log, enabled()));
    },
    ready: () => ({ ok: configError === undefined, checks: { config: configError === undefined ? { ok: true, targets: settings.targets.length } : { ok: false, error: 'invalid backup config (see the log)' } } }),
    /** Run now (tests, `kill -USR1`): a backup of every enabled target, or the drill. */
    runNow: (what: BackupKind | 'drill') => (what === 'drill' ? jobs.enqueue('drill', drill) : jobs.enqueue(`${what} backup`, () => runBackups(deps, what, enabled()))),
    async stop() {
      due.cancel();
      for (const t of tasks) await t.stop();
      await jobs.idle();
    },
  };
}

/** One job at a time, in order; a failing job is logged and never breaks the chain. */
function createJobChain(m: BackupMetrics, log: Logger) {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    enqueue(what: string, job: () => Promise<void>): Promise<unknown> {
      chain = chain.then(async () => {
        m.running.set(1);
        try {
          await job();
        } catch (err) {
          log.error({ job: what, err: describeError(err) }, 'scheduled job failed');
        } finally {
          m.running.set(0);
        }
      });
      return chain;
    },
    idle: () => chain,
  };
}

/** Targets due in the same minute share a snapshot: collect for a moment, then run (a full wins). */
function createDueBatcher(find: (name: string) => TargetSettings | undefined, run: (kind: BackupKind, targets: TargetSettings[]) => void) {
  const pending = new Map<string, BackupKind>();
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = () => {
    flushTimer = undefined;
    const byKind: Record<BackupKind, TargetSettings[]> = { full: [], incremental: [] };
    for (const [name, kind] of pending) {
      const t = find(name);
      if (t) byKind[kind].push(t);
    }
    pending.clear();
    for (const kind of ['full', 'incremental'] as const) {
      const targets = byKind[kind];
      if (targets.length) run(kind, targets);
    }
  };
  return {
    add(target: string, kind: BackupKind): void {
      if (pending.get(target) !== 'full') pending.set(target, kind);
      flushTimer ??= setTimeout(flush, 1000);
    },
    cancel(): void {
      if (flushTimer) clearTimeout(flushTimer);
    },
  };
}

/** The cron tasks (UTC): per enabled target its full and incremental schedule, and the drill. */
function scheduleTasks(settings: BackupSettings, due: (target: string, kind: BackupKind) => void, drill: () => void): ScheduledTask[] {
  const tasks: ScheduledTask[] = [];
  const opts = { timezone: 'UTC', noOverlap: true } as const;
  for (const t of settings.targets.filter((x) => x.enabled)) {
    tasks.push(cron.schedule(t.schedule, () => due(t.name, 'full'), { ...opts, name: `${t.name}-full` }));
    if (t.incrementalSchedule) tasks.push(cron.schedule(t.incrementalSchedule, () => due(t.name, 'incremental'), { ...opts, name: `${t.name}-incremental` }));
  }
  if (settings.drill && settings.targets.some((t) => t.enabled)) tasks.push(cron.schedule(settings.drill, drill, { ...opts, name: 'drill' }));
  return tasks;
}

/** One backup run of `targets` (one snapshot), its metrics, then the prune of the targets it reached. */
async function runBackups(deps: SchedulerDeps, kind: BackupKind, targets: TargetSettings[]): Promise<void> {
  const m = deps.metrics;
  try {
    const report = await createBackup({ config: deps.config, log: deps.log, kind, targets, backupConfigFile: deps.config.backup.configFile, lockWaitMs: deps.lockWaitMs ?? 600_000 });
    for (const r of report.targets) {
      m.duration.set({ target: r.target, kind }, r.durationMs / 1000);
      if (r.status === 'failed') {
        m.failures.inc({ target: r.target, operation: 'backup' });
        continue;
      }
      m.lastSuccess.set({ target: r.target }, Math.floor(Date.now() / 1000));
      m.size.set({ target: r.target }, r.totalBytes);
      m.uploaded.set({ target: r.target }, r.uploadedBytes);
    }
    const ok = targets.filter((t) => report.targets.some((r) => r.target === t.name && r.status !== 'failed'));
    if (ok.length) {
      const pruned = await pruneTargets({ config: deps.config, log: deps.log, targets: ok, dryRun: false, lockWaitMs: deps.lockWaitMs ?? 600_000 });
      for (const p of pruned.targets) if (p.status !== 'ok') m.failures.inc({ target: p.target, operation: 'prune' });
    }
  } catch (err) {
    for (const t of targets) m.failures.inc({ target: t.name, operation: 'backup' });
    throw err;
  }
}

/** The restore drill over `targets` (ciphertext only without an identity) and its metrics. */
async function runDrill(deps: SchedulerDeps, log: Logger, targets: TargetSettings[]): Promise<void> {
  const m = deps.metrics;
  let spec;
  try {
    spec = decryptionSpec(deps.config);
  } catch (err) {
    log.error({ err: describeError(err) }, 'the configured identity is unusable: drill limited to the ciphertext check');
  }
  if (!spec) log.info('no TAPSTACK_BACKUP_IDENTITY: the drill checks stored objects only (no decryption, no restore drill)');
  // The appliance checks signatures against its own signing key.
  const result = await verifyBackups({ config: deps.config, log: deps.log, targets, spec, trust: signingTrust(deps.config), drill: true, lockWaitMs: deps.lockWaitMs ?? 600_000 });
  for (const r of result.targets) {
    if (r.status === 'no-backups') continue;
    m.lastVerifyOk.set({ target: r.target }, r.status === 'ok' ? 1 : 0);
    if (r.status === 'ok' && r.record) m.lastVerified.set({ target: r.target, level: r.record.level }, Math.floor(r.record.at / 1000));
    else m.failures.inc({ target: r.target, operation: 'verify' });
  }
}

/** Last success / verified / size from what the targets hold, so a restart does not blank them. */
async function restoreMetrics(deps: SchedulerDeps, log: Logger, targets: TargetSettings[]): Promise<void> {
  for (const t of targets) {
    let target;
    try {
      target = openTarget(t, { log });
    } catch {
      continue;
    }
    try {
      await restoreTargetMetrics(deps, t.name, target);
    } catch (err) {
      log.warn({ target: t.name, err: describeError(err) }, 'cannot read the target at start-up');
    } finally {
      await closeTarget(target);
    }
  }
}

async function restoreTargetMetrics(deps: SchedulerDeps, name: string, target: ReturnType<typeof openTarget>): Promise<void> {
  const m = deps.metrics;
  // A planted manifest (not signed by this installation) is not a success.
  const catalog = await loadCatalog(target, { trust: signingTrust(deps.config) });
  const newest = catalog.entries.filter((e) => e.signature !== 'bad').at(-1);
  if (newest) {
    m.lastSuccess.set({ target: name }, Math.floor(Date.parse(newest.summary.createdAt) / 1000));
    m.size.set({ target: name }, newest.summary.size);
  }
  const byVerifyTime = (a: { verify?: { at: number } }, b: { verify?: { at: number } }) => (a.verify?.at ?? 0) - (b.verify?.at ?? 0);
  const verified = catalog.entries.filter((e) => e.verify).sort(byVerifyTime).at(-1);
  if (verified?.verify) {
    m.lastVerifyOk.set({ target: name }, verified.verify.ok ? 1 : 0);
    const good = catalog.entries.filter(isVerified).sort(byVerifyTime).at(-1);
    if (good?.verify) m.lastVerified.set({ target: name, level: good.verify.level }, Math.floor(good.verify.at / 1000));
  }
}
