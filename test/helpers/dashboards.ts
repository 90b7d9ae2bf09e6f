/** The panel queries of the provisioned dashboards (monitoring/grafana/dashboards/*.json). */
import fs from 'node:fs';
import path from 'node:path';

export const DASHBOARD_DIR = path.join(process.cwd(), 'monitoring', 'grafana', 'dashboards');

export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: { id: number; title: string; type: string; datasource?: { uid: string }; targets?: { expr?: string; refId: string; datasource?: { uid: string } }[] }[];
}

export function loadDashboards(): Dashboard[] {
  return fs
    .readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, f), 'utf8')) as Dashboard);
}

/** Grafana's built-in variables, as Grafana would expand them for a 1 s scrape interval. */
export function expandVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s').replaceAll('$__range', '1h');
}

export function dashboardQueries(): PanelQuery[] {
  return loadDashboards().flatMap((d) => d.panels.flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ dashboard: d.uid, panel: p.title, expr: expandVariables(t.expr as string) }))));
}

/** Panels that must show data on a fresh appliance with no traffic (others need taps, backups, node-exporter). */
export const CORE_PANELS = new Set([
  'tapstack-trading/House P&L (minor units, since start of counters)',
  'tapstack-writer-data/Writer backlog (queue entries)',
  'tapstack-writer-data/Database and WAL size',
  'tapstack-writer-data/Data volume free',
  'tapstack-writer-data/Data volume free (ratio)',
  'tapstack-market/Settlement price (USD)',
  'tapstack-market/Price staleness',
  'tapstack-market/Breaker open',
  'tapstack-market/Sources connected',
  'tapstack-market/Volatility σ (per √s)',
  'tapstack-market/Quotes per second',
  'tapstack-appliance/Process up (scrape)',
  'tapstack-appliance/Process ready (/readyz)',
  'tapstack-appliance/Health-listener restarts (1 h, AIO)',
  'tapstack-appliance/Health probe result (AIO)',
  'tapstack-appliance/CPU per process',
  'tapstack-appliance/Resident memory',
  'tapstack-appliance/Event-loop delay p99 (beyond the 10 ms sampling interval)',
  'tapstack-appliance/Redis memory (as the API sees it)',
  'tapstack-appliance/TLS certificate: days left',
  'tapstack-appliance/Firing alerts',
]);
