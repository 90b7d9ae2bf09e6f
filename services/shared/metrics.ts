/**
 * Prometheus metrics: one registry per process, created by hand in `main.ts` and passed in.
 * Metric objects live on the returned value, never at module level.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
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
  collectStandardMetrics(registry);
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

/**
 * The sampling interval of the event-loop delay histograms (nodejs_eventloop_lag_*). Node's
 * histogram records the time between two samples, so every figure includes it: an idle loop reads
 * ~10 ms. The delay beyond it is what work waited (bench/measure.ts and the dashboard subtract it).
 */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * prom-client's default metrics under their standard names (process_*, nodejs_*), told apart by the
 * registry's `service` label, so community Node.js dashboards work unchanged. The three gauges
 * prom-client names `*_total` (active handles, requests, resources) are dropped: `promtool check
 * metrics` rejects a `_total` suffix on anything but a counter.
 */
export function collectStandardMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
}

/**
 * `tapstack_ready`: 1 while the process's own readiness check passes, evaluated at each scrape, so
 * Prometheus sees "running but not ready" (a full disk, Redis gone) the way /readyz does.
 */
export function registerReadiness(registry: Registry, ready: () => Promise<{ ok: boolean }>): void {
  new Gauge({
    name: 'tapstack_ready',
    help: '1 if the process passes its readiness check (/readyz), 0 if not',
    registers: [registry],
    async collect() {
      this.set((await ready().catch(() => ({ ok: false }))).ok ? 1 : 0);
    },
  });
}

/**
 * Free space of the data volume and the size of the database and its WAL, read at each scrape by
 * the process that owns the database (the writer), so the disk alert needs no node-exporter.
 */
export function registerDataMetrics(registry: Registry, paths: { dataDir: string; dbFile: string }): void {
  const registers = [registry];
  new Gauge({
    name: 'tapstack_data_volume_free_bytes',
    help: 'Bytes available to the appliance on the data volume',
    registers,
    collect() {
      this.set(statfsOr(paths.dataDir, (st) => st.bavail * st.bsize));
    },
  });
  new Gauge({
    name: 'tapstack_data_volume_size_bytes',
    help: 'Size of the data volume',
    registers,
    collect() {
      this.set(statfsOr(paths.dataDir, (st) => st.blocks * st.bsize));
    },
  });
  new Gauge({
    name: 'tapstack_db_file_size_bytes',
    help: 'Size of the SQLite database file and of its write-ahead log',
    labelNames: ['file'],
    registers,
    collect() {
      for (const [file, p] of [['db', paths.dbFile], ['wal', `${paths.dbFile}-wal`]] as const) {
        let size = 0;
        try {
          size = fs.statSync(p).size;
        } catch {
          // No WAL between checkpoints at start-up: size 0.
        }
        this.set({ file }, size);
      }
    },
  });
}

function statfsOr(dir: string, f: (st: fs.StatsFs) => number): number {
  try {
    return f(fs.statfsSync(dir));
  } catch {
    return Number.NaN;
  }
}

/**
 * `tapstack_tls_certificate_expiry_timestamp_seconds`: notAfter of the certificate nginx serves,
 * re-read at most once a minute (a renewed certificate shows up without a restart).
 */
export function registerCertificateExpiry(registry: Registry, certFile: string): void {
  let cached: { at: number; value: number } | undefined;
  new Gauge({
    name: 'tapstack_tls_certificate_expiry_timestamp_seconds',
    help: 'Unix time the TLS certificate served by nginx expires (NaN if it cannot be read)',
    labelNames: ['file'],
    registers: [registry],
    collect() {
      const now = Date.now();
      if (!cached || now - cached.at > 60_000) {
        let value = Number.NaN;
        try {
          value = Math.floor(Date.parse(new X509Certificate(fs.readFileSync(certFile)).validTo) / 1000);
        } catch {
          // Not there yet (first boot) or unreadable: NaN, and the alert's absent() twin sees it.
        }
        cached = { at: now, value };
      }
      this.set({ file: certFile }, cached.value);
    },
  });
}
