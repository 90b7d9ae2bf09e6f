/** Resolver metrics, registered on the process's own registry (created by hand in main.ts). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createResolverMetrics(registry: Registry) {
  const registers = [registry];
  return {
    lag: new Histogram({
      name: 'tapstack_resolution_lag_seconds',
      help: 'Seconds between the end of a bet window and the decision sent to the writer',
      buckets: [0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 300, 3600],
      registers,
    }),
    decided: new Counter({ name: 'tapstack_bets_decided_total', help: 'Bets decided by the resolver (settle commands sent), by outcome', labelNames: ['outcome'], registers }),
    waiting: new Gauge({ name: 'tapstack_resolver_waiting_bets', help: 'Ended bets held back in the last pass: the feed is fresh but no tick after their window has arrived yet', registers }),
    lastRun: new Gauge({ name: 'tapstack_resolver_last_run_timestamp_seconds', help: 'Unix time the last successful resolver pass finished', registers }),
  };
}

export type ResolverMetrics = ReturnType<typeof createResolverMetrics>;
