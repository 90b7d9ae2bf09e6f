/**
 * Continuous mode (TAPSTACK_BACKUP_CONTINUOUS): one WAL shipper (backup/wal) to the FIRST enabled
 * target of the backup config. One only: a shipper takes over checkpointing of the database, and
 * two would fight over it. Full and incremental snapshots still go to every target on schedule.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../../services/shared/config.js';
import type { Logger } from '../../services/shared/logger.js';
import { encryptionSpec } from '../engine/encryption-spec.js';
import { loadBackupSettings } from '../engine/settings.js';
import { closeTarget, openTarget } from '../engine/targets.js';
import { createWalShipper } from '../wal/index.js';
import type { Target } from '../contracts.js';

export async function startContinuous(deps: { config: Config; log: Logger; registry: Registry }) {
  const log = deps.log.child({ module: 'continuous' });
  const settings = loadBackupSettings(deps.config.backup.configFile);
  const first = settings.targets.find((t) => t.enabled);
  if (!first) {
    log.error('continuous backup is on but the backup config has no enabled target: nothing is shipped');
    return undefined;
  }
  const target: Target = openTarget(first, { log: deps.log });
  const shipper = createWalShipper({
    dbFile: deps.config.dbFile,
    target,
    encryption: encryptionSpec(deps.config),
    log: deps.log,
    intervalMs: deps.config.backup.continuousIntervalMs,
    registry: deps.registry,
  });
  await shipper.start();
  log.info({ target: first.name, intervalMs: deps.config.backup.continuousIntervalMs }, 'continuous WAL shipping started');
  return {
    target: first.name,
    status: () => shipper.status(),
    async stop() {
      await shipper.stop();
      await closeTarget(target);
    },
  };
}
