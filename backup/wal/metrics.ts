/**
 * Prometheus metrics of the WAL shipper, registered on the registry the process passes in (none
 * at module level). Reasons are short codes, so label cardinality stays fixed.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WalMetrics {
  generationsStarted: Counter<'reason'>;
  generationStart: Gauge;
  segments: Counter;
  bytes: Counter;
  uploadFailures: Counter;
  lastDurableCommit: Gauge;
  checkpointStall: Histogram;
}

/** `lag` and `pending` are read at scrape time. */
export function createWalMetrics(registry: Registry, read: { lagSeconds: () => number; pendingBytes: () => number }): WalMetrics {
  const registers = [registry];
  new Gauge({
    name: 'tapstack_wal_lag_seconds',
    help: 'Age of the oldest committed transaction not yet durable on the target (0 when caught up): the current RPO',
    registers,
    collect() {
      this.set(read.lagSeconds());
    },
  });
  new Gauge({
    name: 'tapstack_wal_pending_bytes',
    help: 'WAL frames read but not yet durable on the target',
    registers,
    collect() {
      this.set(read.pendingBytes());
    },
  });
  return {
    generationsStarted: new Counter({ name: 'tapstack_wal_generations_started_total', help: 'WAL generations started (each needs a new base upload), by reason', labelNames: ['reason'], registers }),
    generationStart: new Gauge({ name: 'tapstack_wal_generation_start_timestamp_seconds', help: 'Base time of the current WAL generation', registers }),
    segments: new Counter({ name: 'tapstack_wal_segments_total', help: 'WAL segments stored on the target', registers }),
    bytes: new Counter({ name: 'tapstack_wal_shipped_bytes_total', help: 'Encrypted bytes of WAL segments and bases stored on the target', registers }),
    uploadFailures: new Counter({ name: 'tapstack_wal_upload_failures_total', help: 'Failed WAL segment or base uploads (retried)', registers }),
    lastDurableCommit: new Gauge({ name: 'tapstack_wal_last_durable_commit_timestamp_seconds', help: 'Detection time of the newest transaction durable on the target', registers }),
    checkpointStall: new Histogram({
      name: 'tapstack_wal_checkpoint_stall_seconds',
      help: 'How long the shipper held the write lock to read the last frames and checkpoint',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
  };
}
