/**
 * Step (f): the monitoring files, rendered at every start into `<run dir>/monitoring/`, the one
 * place Prometheus, Alertmanager, Grafana, Loki and Alloy read them from in every mode (compose
 * mounts the runtime volume; the AIO image and the native run read the run dir):
 *   prometheus/prometheus.yml + prometheus/rules/ (copied), alertmanager/alertmanager.yml (mode 600),
 *   grafana/, loki/, alloy/ (copied from the checkout or image, monitoring/);
 * the Grafana admin password (generated once, `<data>/secrets/grafana-admin-password`), and with
 * TAPSTACK_MONITORING the supervisord programs (`<run dir>/supervisord.d/monitoring.conf`).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../services/shared/config.js';
import { writeFileAtomic, writeIfChanged } from '../../services/shared/atomic-file.js';
import { renderAlertmanagerConfig, renderPrometheusConfig, renderSupervisorPrograms } from './monitoring-templates.js';

type Status = 'ok' | 'created' | 'kept' | 'updated';

/** What is copied from `<home>/monitoring` as is (tests and the template stay behind). */
const COPIED = ['prometheus/rules', 'grafana', 'loki', 'alloy'];

export function grafanaPasswordFile(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'grafana-admin-password');
}

export function applyMonitoring(config: Config, paths: { home: string; runDir: string }, step: (name: string, status: Status, detail: string) => void): void {
  const source = path.join(paths.home, 'monitoring');
  const target = path.join(paths.runDir, 'monitoring');
  // Built beside the old copy and swapped in, so that a rule file removed upstream does not linger.
  const next = `${target}.next`;
  fs.rmSync(next, { recursive: true, force: true });
  for (const dir of COPIED) {
    if (fs.existsSync(path.join(source, dir))) fs.cpSync(path.join(source, dir), path.join(next, dir), { recursive: true });
  }
  const template = fs.readFileSync(path.join(source, 'prometheus', 'prometheus.yml.template'), 'utf8');
  fs.mkdirSync(path.join(next, 'alertmanager'), { recursive: true });
  writeFileAtomic(path.join(next, 'prometheus', 'prometheus.yml'), renderPrometheusConfig(template, config), 0o644);
  writeFileAtomic(path.join(next, 'alertmanager', 'alertmanager.yml'), renderAlertmanagerConfig(config), 0o600);
  const existed = fs.existsSync(target);
  let status: Status = 'kept';
  if (!existed || !sameTree(next, target)) {
    const old = `${target}.old`;
    fs.rmSync(old, { recursive: true, force: true });
    if (existed) fs.renameSync(target, old);
    fs.renameSync(next, target);
    fs.rmSync(old, { recursive: true, force: true });
    status = existed ? 'updated' : 'created';
  } else fs.rmSync(next, { recursive: true, force: true });
  const receivers = Object.keys(JSON.parse(renderAlertmanagerConfig(config).replace(/^#.*\n/, '')).receivers[0]).filter((k) => k !== 'name');
  step('monitoring-config', status, `${target} (receivers: ${receivers.join(', ') || 'none'})`);

  const pw = grafanaPasswordFile(config.dataDir);
  if (fs.existsSync(pw)) step('grafana-password', 'kept', pw);
  else {
    fs.mkdirSync(path.dirname(pw), { recursive: true, mode: 0o700 });
    writeFileAtomic(pw, `${randomBytes(18).toString('base64url')}\n`, 0o600);
    step('grafana-password', 'created', pw);
  }

  const include = path.join(paths.runDir, 'supervisord.d', 'monitoring.conf');
  if (config.monitoring.enabled) {
    fs.mkdirSync(path.dirname(include), { recursive: true, mode: 0o700 });
    step('monitoring-programs', writeIfChanged(include, renderSupervisorPrograms(config, { monitoringDir: target, dataDir: config.dataDir }), 0o600), include);
  } else if (fs.existsSync(include)) {
    fs.rmSync(include);
    step('monitoring-programs', 'updated', `${include} removed (TAPSTACK_MONITORING is off)`);
  }
}

/** Same files with the same bytes (a second start with unchanged settings keeps the copy). */
function sameTree(a: string, b: string): boolean {
  const list = (d: string) => (fs.readdirSync(d, { recursive: true }) as string[]).sort();
  const la = list(a);
  const lb = list(b);
  if (la.join('\n') !== lb.join('\n')) return false;
  return la.every((rel) => {
    const [pa, pb] = [path.join(a, rel), path.join(b, rel)];
    if (fs.statSync(pa).isDirectory()) return fs.statSync(pb).isDirectory();
    return fs.statSync(pb).isFile() && fs.readFileSync(pa).equals(fs.readFileSync(pb));
  });
}
