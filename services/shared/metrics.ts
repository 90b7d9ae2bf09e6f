/**
 * Prometheus metrics: one registry per process, created by hand in `main.ts` and passed in.
 * Metric objects live on the returned value, never at module level.
 */
import { Registry, collectDefaultMetrics, Counter, Histogram, Gauge } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Histogram<'method' | 'route' | 'status'>;
  readonly authOutcomes: Counter<'outcome'>;
  readonly ledgerMovements: Counter<'kind'>;
  readonly integrityOk: Gauge;
  readonly integrityLastRun: Gauge;
  readonly integrityProblems: Gauge;
  readonly integrityDuration: Gauge;
}

export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'tapstack_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Histogram({
      name: 'tapstack_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    authOutcomes: new Counter({
      name: 'tapstack_auth_attempts_total',
      help: 'Sign-in attempts by outcome (ok or the error code)',
      labelNames: ['outcome'],
      registers,
    }),
    ledgerMovements: new Counter({
      name: 'tapstack_ledger_movements_total',
      help: 'Ledger rows written by this process, by kind',
      labelNames: ['kind'],
      registers,
    }),
    integrityOk: new Gauge({
      name: 'tapstack_integrity_ok',
      help: '1 if the last ledger integrity check passed, 0 if it found problems (absent before the first run)',
      registers,
    }),
    integrityLastRun: new Gauge({
      name: 'tapstack_integrity_last_run_timestamp_seconds',
      help: 'Unix time the last ledger integrity check finished',
      registers,
    }),
    integrityProblems: new Gauge({
      name: 'tapstack_integrity_problems',
      help: 'Number of problems the last ledger integrity check reported',
      registers,
    }),
    integrityDuration: new Gauge({
      name: 'tapstack_integrity_duration_seconds',
      help: 'Duration of the last ledger integrity check',
      registers,
    }),
  };
}
