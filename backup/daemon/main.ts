/**
 * Backup scheduler process (`[program:backup]`): node-cron schedules from the backup config file,
 * runs behind the data-dir lock, metrics and /readyz on TAPSTACK_BACKUP_PORT. Lives in backup/
 * because services/ must not import backup/. SIGUSR1 runs an incremental backup now, SIGUSR2 the drill.
 */
import { createServer } from 'node:http';
import { createLifecycle } from '../../services/shared/lifecycle.js';
import { createProbeHandler } from '../../services/shared/probe-server.js';
import { bootConfig } from '../../services/shared/boot.js';
import { createBackupScheduler } from './jobs.js';
import { startContinuous } from './continuous.js';
import { createBackupMetrics } from './metrics.js';

const { config, log } = bootConfig('backup');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

const metrics = createBackupMetrics();
const scheduler = createBackupScheduler({ config, log, metrics });
scheduler.start();
// Continuous WAL shipping for point-in-time restore; a failure to start is logged, schedules go on.
const continuous = config.backup.continuous
  ? await startContinuous({ config, log, registry: metrics.registry }).catch((err: Error) => {
      log.error({ err: err.message }, 'continuous WAL shipping could not start');
      return undefined;
    })
  : undefined;
process.on('SIGUSR1', () => void scheduler.runNow('incremental'));
process.on('SIGUSR2', () => void scheduler.runNow('drill'));

const server = createServer(createProbeHandler({ metrics, ready: async () => scheduler.ready() }));
server.listen(config.backup.port, config.workers.host, () => log.info({ address: server.address() }, 'backup probe listening'));

lifecycle.onShutdown('stop probe listener', () => new Promise<void>((resolve) => server.close(() => resolve())));
// A run cut short by the shutdown timeout is safe: nothing is listed until its manifest is written.
lifecycle.onShutdown('ship the last WAL frames', () => continuous?.stop());
lifecycle.onShutdown('stop schedules, finish the running job', () => scheduler.stop());
