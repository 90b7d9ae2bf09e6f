/** The writer's metrics, on its process registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createWriterMetrics(registry: Registry) {
  const registers = [registry];
  return {
    queueDepth: new Gauge({ name: 'tapstack_writer_queue_depth', help: 'Entries in the writer queue stream (not yet trimmed)', registers }),
    batchSize: new Histogram({ name: 'tapstack_writer_batch_size', help: 'Queue entries per committed batch', buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000], registers }),
    commitSeconds: new Histogram({ name: 'tapstack_writer_commit_seconds', help: 'SQLite transaction time per batch', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers }),
    bets: new Counter({ name: 'tapstack_writer_bets_total', help: 'Bets committed or rejected at commit', labelNames: ['outcome'], registers }),
    // House P&L on the Trading dashboard: stakes taken minus payouts and refunds, in minor units.
    money: new Counter({ name: 'tapstack_bet_money_minor_units_total', help: 'Money moved by bets in currency minor units, by flow (stake, bet-payout, bet-refund)', labelNames: ['flow'], registers }),
    lastCommit: new Gauge({ name: 'tapstack_writer_last_commit_timestamp_seconds', help: 'When the writer last committed a bet', registers }),
  };
}

export type WriterMetrics = ReturnType<typeof createWriterMetrics>;
