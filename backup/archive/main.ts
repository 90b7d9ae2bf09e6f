/**
 * Archiver process (`[program:archiver]`): looks for closed weeks on TAPSTACK_ARCHIVE_CRON and
 * archives them (archiver.ts), metrics and /readyz on TAPSTACK_ARCHIVE_PORT. Lives in backup/
 * because it uses the backup targets and encryption, which services/ must not import. With
 * TAPSTACK_ARCHIVE_TARGET empty it stays up, archives nothing and exports last-success 0 (so the
 * ArchiveStale alert tells the operator archival is off). SIGUSR1 runs now.
 */
import { createServer } from 'node:http';
import cron from 'node-cron';
import { createLifecycle } from '../../services/shared/lifecycle.js';
import { createProbeHandler } from '../../services/shared/probe-server.js';
import { bootConfig, openPrimaryDb } from '../../services/shared/boot.js';
import { runArchiver } from './archiver.js';
import { createArchiveMetrics, refreshArchiveMetrics } from './metrics.js';
import { archiveSetup } from './setup.js';

const { config, log } = bootConfig('archiver');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const db = openPrimaryDb(config, log);
const metrics = createArchiveMetrics();
refreshArchiveMetrics(metrics, db);
const setup = config.archive.target ? archiveSetup(config, { log }) : undefined;
if (!setup) log.warn('TAPSTACK_ARCHIVE_TARGET is empty: archival is off and the primary file only grows');

let running: Promise<void> | undefined;
const runNow = () => {
  if (!setup || running) return;
  metrics.running.set(1);
  running = runArchiver({ db, target: setup.target, encryption: setup.encryption, dir: config.archive.dir, keepLocalWeeks: config.archive.keepLocalWeeks, graceMs: config.archive.graceMs, deleteBatch: config.archive.deleteBatch, log, now: Date.now })
    .then((r) => r.weeks.forEach((w) => w.status === 'failed' && metrics.failures.inc({ code: w.code })))
    .catch((err: Error) => (metrics.failures.inc({ code: 'archive-failed' }), log.error({ err: err.message }, 'archive run failed')))
    .finally(() => {
      refreshArchiveMetrics(metrics, db);
      metrics.running.set(0);
      running = undefined;
    });
};
const task = cron.schedule(config.archive.cron, runNow, { timezone: 'UTC', name: 'archive' });
process.on('SIGUSR1', runNow);
setTimeout(runNow, 5_000).unref(); // resume a run a restart interrupted without waiting for the schedule

const server = createServer(createProbeHandler({ metrics, ready: async () => ({ ok: db.raw.open, checks: { database: { ok: db.raw.open } } }) }));
server.listen(config.archive.port, config.workers.host, () => log.info({ address: server.address() }, 'archiver probe listening'));

lifecycle.onShutdown('stop schedule', () => task.stop());
lifecycle.onShutdown('stop probe listener', () => new Promise<void>((resolve) => server.close(() => resolve())));
// A run cut short is safe: every step is journalled and the next start resumes it.
lifecycle.onShutdown('finish the step in flight', () => running);
lifecycle.onShutdown('close target', () => setup?.target.close?.());
lifecycle.onShutdown('checkpoint wal', () => db.checkpoint());
lifecycle.onShutdown('close database', () => db.close());
