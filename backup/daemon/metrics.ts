/**
 * Metrics of the backup scheduler (its own registry; the probe listener serves it on /metrics).
 * Per target: last success, last verified, duration, size, failures — the figures an alert on
 * "no good backup for N hours" or "drill failing" needs.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { collectStandardMetrics } from '../../services/shared/metrics.js';

export function createBackupMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'backup' });
  collectStandardMetrics(registry);
  const registers = [registry];
  return {
    registry,
    configValid: new Gauge({ name: 'tapstack_backup_config_valid', help: '1 if the backup config file is valid (0: nothing is scheduled)', registers }),
    lastSuccess: new Gauge({ name: 'tapstack_backup_last_success_timestamp_seconds', help: 'Unix time of the newest complete backup (or unchanged confirmation) per target', labelNames: ['target'], registers }),
    lastVerified: new Gauge({ name: 'tapstack_backup_last_verified_timestamp_seconds', help: 'Unix time the newest passing verification finished, per target and level', labelNames: ['target', 'level'], registers }),
    lastVerifyOk: new Gauge({ name: 'tapstack_backup_last_verify_ok', help: '1 if the last verification/drill of a target passed, 0 if it failed', labelNames: ['target'], registers }),
    duration: new Gauge({ name: 'tapstack_backup_duration_seconds', help: 'Duration of the last backup run per target and kind', labelNames: ['target', 'kind'], registers }),
    size: new Gauge({ name: 'tapstack_backup_size_bytes', help: 'Plaintext size of the newest backup per target', labelNames: ['target'], registers }),
    uploaded: new Gauge({ name: 'tapstack_backup_uploaded_bytes', help: 'Bytes uploaded by the last backup run per target (0 when unchanged)', labelNames: ['target'], registers }),
    failures: new Counter({ name: 'tapstack_backup_failures_total', help: 'Failed scheduled operations per target and operation (backup, verify, prune)', labelNames: ['target', 'operation'], registers }),
    running: new Gauge({ name: 'tapstack_backup_running', help: '1 while a scheduled backup, drill or prune runs', registers }),
  };
}

export type BackupMetrics = ReturnType<typeof createBackupMetrics>;
