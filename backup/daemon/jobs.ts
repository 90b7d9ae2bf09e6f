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
import { decryptionSpec, signingTrust } from '../engine/keys.js';
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
  const m = deps.metrics;
  const tasks: ScheduledTask[] = [];
  let settings: BackupSettings = { file: '', targets: [], drill: '' };
  let configError: string | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const pending = new Map<string, BackupKind>();
  let flushTimer: NodeJS.Timeout | undefined;

  /** Serialize every job; a failing job never breaks the chain. */
  const enqueue = (what: string, job: () => Promise<void>) => {
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
  };

  const runBackups = async (kind: BackupKind, targets: TargetSettings[]) => {
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
  };

  const flush = () => {
    flushTimer = undefined;
    const byKind: Record<BackupKind, TargetSettings[]> = { full: [], incremental: [] };
    for (const [name, kind] of pending) {
      const t = settings.targets.find((x) => x.name === name);
      if (t) byKind[kind].push(t);
    }
    pending.clear();
    for (const kind of ['full', 'incremental'] as const) {
      const targets = byKind[kind];
      if (targets.length) void enqueue(`${kind} backup`, () => runBackups(kind, targets));
    }
  };

  /** Targets due in the same minute share a snapshot: collect for a moment, then run. */
  const due = (target: string, kind: BackupKind) => {
    if (pending.get(target) !== 'full') pending.set(target, kind);
    flushTimer ??= setTimeout(flush, 1000);
  };

  const runDrill = async () => {
    const targets = settings.targets.filter((t) => t.enabled);
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
  };

  /** Last success / verified / size from what the targets hold. */
  const restoreMetrics = async () => {
    for (const t of settings.targets.filter((x) => x.enabled)) {
      const target = (() => {
        try {
          return openTarget(t, { log });
        } catch {
          return undefined;
        }
      })();
      if (!target) continue;
      try {
        // A planted manifest (not signed by this installation) is not a success.
        const catalog = await loadCatalog(target, { trust: signingTrust(deps.config) });
        const newest = catalog.entries.filter((e) => e.signature !== 'bad').at(-1);
        if (newest) {
          m.lastSuccess.set({ target: t.name }, Math.floor(Date.parse(newest.summary.createdAt) / 1000));
          m.size.set({ target: t.name }, newest.summary.size);
        }
        const verified = catalog.entries.filter((e) => e.verify).sort((a, b) => (a.verify?.at ?? 0) - (b.verify?.at ?? 0)).at(-1);
        if (verified?.verify) {
          m.lastVerifyOk.set({ target: t.name }, verified.verify.ok ? 1 : 0);
          const good = catalog.entries.filter(isVerified).sort((a, b) => (a.verify?.at ?? 0) - (b.verify?.at ?? 0)).at(-1);
          if (good?.verify) m.lastVerified.set({ target: t.name, level: good.verify.level }, Math.floor(good.verify.at / 1000));
        }
      } catch (err) {
        log.warn({ target: t.name, err: describeError(err) }, 'cannot read the target at start-up');
      } finally {
        await closeTarget(target);
      }
    }
  };

  return {
    start() {
      try {
        settings = loadBackupSettings(deps.config.backup.configFile);
        m.configValid.set(1);
      } catch (err) {
        configError = describeError(err);
        m.configValid.set(0);
        log.error({ err: (err as Error).message }, 'invalid backup config: nothing scheduled until it is fixed (the health listener restarts this program, which re-reads it)');
        return;
      }
      if (settings.targets.length === 0) log.warn({ file: deps.config.backup.configFile }, 'no backup config: no backups are scheduled');
      const opts = { timezone: 'UTC', noOverlap: true } as const;
      for (const t of settings.targets.filter((x) => x.enabled)) {
        tasks.push(cron.schedule(t.schedule, () => due(t.name, 'full'), { ...opts, name: `${t.name}-full` }));
        if (t.incrementalSchedule) tasks.push(cron.schedule(t.incrementalSchedule, () => due(t.name, 'incremental'), { ...opts, name: `${t.name}-incremental` }));
      }
      if (settings.drill && settings.targets.some((t) => t.enabled)) tasks.push(cron.schedule(settings.drill, () => void enqueue('drill', runDrill), { ...opts, name: 'drill' }));
      for (const task of tasks) log.info({ task: task.name, cron: task.getPattern(), next: task.getNextRun() }, 'scheduled');
      void enqueue('restore metrics', restoreMetrics);
    },
    ready: () => ({ ok: configError === undefined, checks: { config: configError === undefined ? { ok: true, targets: settings.targets.length } : { ok: false, error: 'invalid backup config (see the log)' } } }),
    /** Run now (tests, `kill -USR1`): a backup of every enabled target, or the drill. */
    runNow: (what: BackupKind | 'drill') => (what === 'drill' ? enqueue('drill', runDrill) : enqueue(`${what} backup`, () => runBackups(what, settings.targets.filter((t) => t.enabled)))),
    async stop() {
      if (flushTimer) clearTimeout(flushTimer);
      for (const t of tasks) await t.stop();
      await chain;
    },
  };
}
