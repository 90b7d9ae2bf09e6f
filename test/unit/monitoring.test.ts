/**
 * The monitoring files, checked offline with the real tools (Debian's promtool and amtool,
 * TOOLING.md): rules load and every alert has a promtool test that fires it and one that keeps it
 * silent, a runbook line in DEPLOY.md; the rendered prometheus.yml and alertmanager.yml pass
 * `promtool check config` / `amtool check-config` in both modes; the dashboards are well formed;
 * `promtool check metrics` is clean on what the processes export.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { renderAlertmanagerConfig, renderPrometheusConfig, renderSupervisorPrograms, scrapeTargets } from '../../cli/setup/monitoring-templates.js';
import { createHealthMetrics } from '../../healthchecks/health-metrics.js';
import { loadConfig, logLevelFor, maskedConfig, ConfigError } from '../../services/shared/config.js';
import { createMarketMetrics } from '../../services/shared/market/metrics.js';
import { createMetrics, EVENT_LOOP_RESOLUTION_MS, registerCertificateExpiry, registerDataMetrics, registerReadiness } from '../../services/shared/metrics.js';
import { createResolverMetrics } from '../../services/resolver/metrics.js';
import { createWriterMetrics } from '../../services/writer/metrics.js';
import { createBackupMetrics } from '../../backup/daemon/metrics.js';
import { dashboardQueries, loadDashboards } from '../helpers/dashboards.js';
import { REPO } from '../helpers/deploy-files.js';
import { waitFor } from '../helpers/ports.js';
import { loopDelayMs } from '../../bench/measure.js';
import { metricValue } from '../../bench/stack.js';

const PROM = path.join(REPO, 'monitoring', 'prometheus');
const RULE_FILES = fs.readdirSync(path.join(PROM, 'rules')).filter((f) => f.endsWith('.rules.yml'));
const TEST_FILES = fs.readdirSync(path.join(PROM, 'tests')).filter((f) => f.endsWith('.test.yml'));
const deploy = fs.readFileSync(path.join(REPO, 'DEPLOY.md'), 'utf8');

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules: Rule[] = RULE_FILES.flatMap((f) => (YAML.parse(fs.readFileSync(path.join(PROM, 'rules', f), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules));
const alerts = rules.filter((r) => r.alert);

const tool = (cmd: string, args: string[], input?: string) => spawnSync(cmd, args, { cwd: PROM, encoding: 'utf8', input, timeout: 60_000 });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-mon-unit-'));

test('promtool check rules: every rule file loads', (t) => {
  const r = tool('promtool', ['check', 'rules', ...RULE_FILES.map((f) => `rules/${f}`)]);
  t.is(r.status, 0, r.stdout + r.stderr);
  t.true(alerts.length >= 19, `${alerts.length} alerts`);
});

test('promtool test rules: every test file in monitoring/prometheus/tests passes', (t) => {
  const r = tool('promtool', ['test', 'rules', ...TEST_FILES.map((f) => `tests/${f}`)]);
  t.is(r.status, 0, r.stdout + r.stderr);
  t.notRegex(r.stdout + r.stderr, /FAILED/);
});

test('every alert has a promtool test that fires it and one that keeps it silent (the Watchdog always fires)', (t) => {
  const fires = new Set<string>();
  const silent = new Set<string>();
  for (const f of TEST_FILES) {
    const doc = YAML.parse(fs.readFileSync(path.join(PROM, 'tests', f), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
    for (const c of doc.tests.flatMap((x) => x.alert_rule_test ?? [])) (c.exp_alerts?.length ? fires : silent).add(c.alertname);
  }
  for (const a of alerts) {
    t.true(fires.has(a.alert!), `${a.alert}: a test where it fires`);
    if (a.alert !== 'Watchdog') t.true(silent.has(a.alert!), `${a.alert}: a test where it stays silent`);
  }
});

test('every alert has a severity, a summary and a runbook line in DEPLOY.md "Alerts and runbooks"', (t) => {
  const section = deploy.slice(deploy.indexOf('### Alerts and runbooks'));
  t.true(deploy.includes('### Alerts and runbooks'));
  for (const a of alerts) {
    t.regex(a.labels?.severity ?? '', /^(critical|warning|info|none)$/, `${a.alert}: severity`);
    t.truthy(a.annotations?.summary, `${a.alert}: summary`);
    t.is(a.annotations?.runbook, `DEPLOY.md#${a.alert!.toLowerCase()}`, `${a.alert}: runbook annotation`);
    t.regex(section, new RegExp(`^#### ${a.alert}\\n\\S`, 'm'), `${a.alert}: a runbook entry`);
  }
});

for (const mode of ['compose', 'aio'] as const) {
  test(`promtool check config: the prometheus.yml setup renders for ${mode} loads with every rule file`, (t) => {
    const env: Record<string, string> = mode === 'compose' ? { TAPSTACK_REDIS_URL: 'redis://redis:6379/0' } : { TAPSTACK_MONITORING: 'true' };
    const config = loadConfig(env);
    const dir = tmp();
    fs.cpSync(path.join(PROM, 'rules'), path.join(dir, 'rules'), { recursive: true });
    const file = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(file, renderPrometheusConfig(fs.readFileSync(path.join(PROM, 'prometheus.yml.template'), 'utf8'), config));
    const r = tool('promtool', ['check', 'config', file]);
    t.is(r.status, 0, r.stdout + r.stderr);
    for (const f of RULE_FILES) t.regex(r.stdout + r.stderr, new RegExp(`rules/${f.replace('.', '\\.')}`), `${f} loaded`);
    const targets = scrapeTargets(config).tapstack.map((x) => x.service);
    t.deepEqual(targets.slice(0, 8), ['api', 'realtime', 'ingest', 'quoter', 'writer', 'resolver', 'scheduler', 'backup']);
    t.is(targets.includes('health-listener'), mode === 'aio', 'the health listener exists only under supervisord');
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('amtool check-config: alertmanager.yml with no receiver, and with every receiver set from files', (t) => {
  const dir = tmp();
  const secret = (name: string, value: string) => {
    fs.writeFileSync(path.join(dir, name), `${value}\n`);
    return path.join(dir, name);
  };
  const full = loadConfig({
    TAPSTACK_ALERT_WEBHOOK_URL_FILE: secret('hook', 'https://hooks.example.test/a'),
    TAPSTACK_ALERT_EMAIL_TO: 'ops@example.test,oncall@example.test',
    TAPSTACK_ALERT_SMTP_SMARTHOST: 'smtp.example.test:587',
    TAPSTACK_ALERT_SMTP_USERNAME: 'alerts',
    TAPSTACK_ALERT_SMTP_PASSWORD_FILE: secret('smtp', 'hunter2-smtp'),
    TAPSTACK_ALERT_SLACK_WEBHOOK_URL_FILE: secret('slack', 'https://hooks.slack.example.test/T/B/x'),
    TAPSTACK_ALERT_DISCORD_WEBHOOK_URL_FILE: secret('discord', 'https://discord.example.test/api/webhooks/1/x'),
    TAPSTACK_ALERT_TELEGRAM_BOT_TOKEN_FILE: secret('tg', '123:telegram-token'),
    TAPSTACK_ALERT_TELEGRAM_CHAT_ID: '-1001',
    TAPSTACK_ALERT_HEARTBEAT_URL_FILE: secret('hb', 'https://hc-ping.example.test/uuid'),
  });
  for (const [name, config] of [['none', loadConfig({})], ['all', full]] as const) {
    const file = path.join(dir, `${name}.yml`);
    fs.writeFileSync(file, renderAlertmanagerConfig(config));
    const r = tool('amtool', ['check-config', file]);
    t.is(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
  }
  const doc = YAML.parse(renderAlertmanagerConfig(full)) as { receivers: Record<string, unknown>[]; route: { routes: { matchers: string[]; receiver: string }[] } };
  t.deepEqual(Object.keys(doc.receivers[0]!).sort(), ['discord_configs', 'email_configs', 'name', 'slack_configs', 'telegram_configs', 'webhook_configs']);
  t.deepEqual(doc.route.routes[0], { receiver: 'heartbeat', matchers: ['alertname="Watchdog"'], group_wait: '0s', group_interval: '1m', repeat_interval: '1m' });
  t.true(renderAlertmanagerConfig(full).includes('hunter2-smtp'), 'the secret read from its file');
  const masked = JSON.stringify(maskedConfig(full));
  t.false(/hunter2|telegram-token|hc-ping|hooks\./.test(masked), 'no alert secret in the logged config');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the AIO programs: Debian binaries on the configured loopback ports, data under the data volume', (t) => {
  const config = loadConfig({ TAPSTACK_MONITORING: 'true', TAPSTACK_DATA_DIR: '/data' });
  const conf = renderSupervisorPrograms(config, { monitoringDir: '/run/tapstack/monitoring', dataDir: config.dataDir });
  t.regex(conf, /^\[program:prometheus\]\ncommand=prometheus --config\.file=\/run\/tapstack\/monitoring\/prometheus\/prometheus\.yml --storage\.tsdb\.path=\/data\/prometheus .*--web\.listen-address=127\.0\.0\.1:9090/m);
  t.regex(conf, /^\[program:alertmanager\]\ncommand=prometheus-alertmanager --config\.file=\/run\/tapstack\/monitoring\/alertmanager\/alertmanager\.yml --storage\.path=\/data\/alertmanager --web\.listen-address=127\.0\.0\.1:9093 --cluster\.listen-address= /m);
  t.regex(fs.readFileSync(path.join(REPO, 'supervisord.conf'), 'utf8'), /^\[include\]\nfiles=%\(ENV_TAPSTACK_RUN_DIR\)s\/supervisord\.d\/\*\.conf$/m);
  t.regex(fs.readFileSync(path.join(REPO, 'Dockerfile.aio'), 'utf8'), /prometheus prometheus-alertmanager/);
});

test('dashboards: unique uids, every panel on the provisioned Prometheus datasource with a query', (t) => {
  const boards = loadDashboards();
  t.deepEqual(boards.map((d) => d.title).sort(), ['Tapstack / Appliance', 'Tapstack / Backups', 'Tapstack / Market', 'Tapstack / Trading', 'Tapstack / Writer & data']);
  t.is(new Set(boards.map((d) => d.uid)).size, boards.length);
  const ds = YAML.parse(fs.readFileSync(path.join(REPO, 'monitoring', 'grafana', 'provisioning', 'datasources', 'tapstack.yml'), 'utf8')) as { datasources: { uid: string; type: string; url: string }[] };
  t.deepEqual(ds.datasources.map((d) => [d.uid, d.type, d.url]), [['tapstack-prometheus', 'prometheus', 'http://prometheus:9090'], ['tapstack-loki', 'loki', 'http://loki:3100']]);
  for (const d of boards) {
    t.is(new Set(d.panels.map((p) => p.id)).size, d.panels.length, `${d.uid}: panel ids unique`);
    for (const p of d.panels) {
      t.is(p.datasource?.uid, 'tapstack-prometheus', `${d.uid}/${p.title}`);
      t.true((p.targets ?? []).length > 0, `${d.uid}/${p.title}: has a query`);
      for (const q of p.targets ?? []) t.truthy(q.expr && q.refId && q.datasource?.uid === 'tapstack-prometheus', `${d.uid}/${p.title}/${q.refId}`);
    }
  }
  const prov = YAML.parse(fs.readFileSync(path.join(REPO, 'monitoring', 'grafana', 'provisioning', 'dashboards', 'tapstack.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
  t.is(prov.providers[0]?.options.path, '/run/tapstack/monitoring/grafana/dashboards', 'where setup copies them in the runtime volume');
});

test('promtool check metrics is clean on what the processes export; default metrics carry standard names', async (t) => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'tapstack.db'), 'x');
  const writer = createMetrics('writer');
  createWriterMetrics(writer.registry);
  registerDataMetrics(writer.registry, { dataDir: dir, dbFile: path.join(dir, 'tapstack.db') });
  registerReadiness(writer.registry, async () => ({ ok: true }));
  const scheduler = createMetrics('scheduler');
  registerCertificateExpiry(scheduler.registry, path.join(dir, 'missing.pem'));
  const quoter = createMetrics('quoter');
  createMarketMetrics(quoter.registry);
  const resolver = createMetrics('resolver');
  createResolverMetrics(resolver.registry);
  const backup = createBackupMetrics();
  const health = createHealthMetrics();
  health.report({ at: 1, programs: { writer: { state: 'RUNNING', pid: 1, failures: 0, lastProbeOk: true } } });
  for (const [name, registry] of [['writer', writer.registry], ['scheduler', scheduler.registry], ['quoter', quoter.registry], ['resolver', resolver.registry], ['backup', backup.registry], ['health', health.registry]] as const) {
    const text = await registry.metrics();
    const r = tool('promtool', ['check', 'metrics'], text);
    t.is(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
    t.regex(text, new RegExp(`^process_cpu_seconds_total\\{service="${name === 'health' ? 'health-listener' : name}"\\}`, 'm'), `${name}: process_* with its service label`);
    t.regex(text, /^nodejs_eventloop_lag_p99_seconds\{/m);
    t.notRegex(text, /^tapstack_process_|^tapstack_nodejs_/m, 'no prefixed default metrics');
  }
  t.regex(await writer.registry.metrics(), /^tapstack_db_file_size_bytes\{file="db",service="writer"\} 1$/m);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('event-loop delay figures include the sampling interval, which the bench and the dashboard take off', async (t) => {
  // Node's histogram records the time between two samples: an idle loop reads the interval itself.
  const { registry } = createMetrics('idle');
  const min = await waitFor(async () => {
    const v = metricValue(await registry.metrics(), 'nodejs_eventloop_lag_min_seconds');
    // With no sample yet the histogram reports its empty state (min = 2^63 ns).
    return v > 0 && v < 1 ? v : undefined;
  }, 'a sampled event-loop delay');
  // An idle loop's real delay is ~0; a sample can come a little early (timer coalescing: 9.4 ms seen).
  t.true(min * 1000 >= EVENT_LOOP_RESOLUTION_MS * 0.5, `the smallest sample (${min * 1000} ms) is about the interval`);
  t.true(loopDelayMs(min) < EVENT_LOOP_RESOLUTION_MS, `the bench reads an idle loop as ${loopDelayMs(min)} ms, not ${min * 1000}`);
  const panel = dashboardQueries().find((q) => q.expr.includes('nodejs_eventloop_lag_p99_seconds'));
  t.regex(panel?.expr ?? '', new RegExp(`- ${(EVENT_LOOP_RESOLUTION_MS / 1000).toFixed(3)}\\b`), 'the dashboard subtracts the same interval');
});

test('log levels: one for all, overridden per process; a bad override is refused with the others', (t) => {
  const c = loadConfig({ TAPSTACK_LOG_LEVEL: 'warn', TAPSTACK_LOG_LEVELS: 'writer=debug,health-listener=error' });
  t.is(logLevelFor(c, 'writer'), 'debug');
  t.is(logLevelFor(c, 'health-listener'), 'error');
  t.is(logLevelFor(c, 'api'), 'warn');
  const err = t.throws(() => loadConfig({ TAPSTACK_LOG_LEVELS: 'writer=loud', TAPSTACK_PROMETHEUS_RETENTION: 'forever' }), { instanceOf: ConfigError });
  t.is(err?.problems.length, 2, err?.message);
});
