/**
 * The monitoring configuration, rendered from the config: prometheus.yml (from
 * monitoring/prometheus/prometheus.yml.template) and alertmanager.yml (built here; receivers and
 * their secrets come from TAPSTACK_ALERT_* settings, the secrets through *_FILE). Pure functions:
 * setup writes what they return, and the tests render the same files with short intervals.
 */
import type { Config } from '../../services/shared/config.js';
import { redisIsLocal, renderTemplate } from './templates.js';

/** A scrape target: one process, by the `service` name its metrics carry. */
export interface Target {
  service: string;
  address: string;
}

/** Where Prometheus finds every process: compose service names, or loopback ports beside it. */
export function scrapeTargets(config: Config): { tapstack: Target[]; node: string[]; prometheus: string; alertmanager: string } {
  // Redis in its own container (compose) means every process is a compose service too.
  const local = redisIsLocal(config.redis.url);
  const host = (service: string) => (local ? '127.0.0.1' : service);
  const ports: [string, number][] = [
    ['api', config.http.port],
    ['realtime', config.realtime.port],
    ['ingest', config.workers.ingestPort],
    ['quoter', config.workers.quoterPort],
    ['writer', config.writer.port],
    ['resolver', config.resolver.port],
    ['scheduler', config.scheduler.port],
    ['backup', config.backup.port],
    ['archiver', config.archive.port],
  ];
  const tapstack = ports.map(([service, port]) => ({ service, address: `${host(service)}:${port}` }));
  // The health listener exists only under supervisord (AIO, native run).
  if (local) tapstack.push({ service: 'health-listener', address: `127.0.0.1:${config.monitoring.healthMetricsPort}` });
  const m = config.monitoring;
  return local
    ? { tapstack, node: [], prometheus: `${loopback(m.host)}:${m.prometheusPort}`, alertmanager: `${loopback(m.host)}:${m.alertmanagerPort}` }
    : { tapstack, node: ['node-exporter:9100'], prometheus: 'localhost:9090', alertmanager: 'alertmanager:9093' };
}

const loopback = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);

export interface PrometheusTimings {
  scrapeInterval: string;
  evaluationInterval: string;
}

export const DEFAULT_TIMINGS: PrometheusTimings = { scrapeInterval: '15s', evaluationInterval: '15s' };

export function renderPrometheusConfig(template: string, config: Config, timings: PrometheusTimings = DEFAULT_TIMINGS): string {
  const t = scrapeTargets(config);
  const list = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');
  return renderTemplate(template, {
    SCRAPE_INTERVAL: timings.scrapeInterval,
    EVALUATION_INTERVAL: timings.evaluationInterval,
    ALERTMANAGER_TARGET: JSON.stringify(t.alertmanager),
    PROMETHEUS_TARGET: JSON.stringify(t.prometheus),
    TAPSTACK_TARGETS: JSON.stringify(t.tapstack.map((x) => ({ targets: [x.address], labels: { service: x.service } }))),
    NODE_TARGETS: t.node.length ? `[{"targets": [${list(t.node)}]}]` : '[]',
  });
}

export interface AlertTimings {
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
  resolveTimeout: string;
}

export const DEFAULT_ALERT_TIMINGS: AlertTimings = { groupWait: '30s', groupInterval: '5m', repeatInterval: '4h', resolveTimeout: '5m' };

/**
 * alertmanager.yml as JSON (valid YAML). Every configured receiver gets every alert but the
 * Watchdog, which goes to the heartbeat URL alone (or nowhere). Secrets are written into the file,
 * which setup keeps at mode 600, as it does redis.conf.
 */
export function renderAlertmanagerConfig(config: Config, timings: AlertTimings = DEFAULT_ALERT_TIMINGS): string {
  const a = config.monitoring.alerts;
  const global: Record<string, unknown> = { resolve_timeout: timings.resolveTimeout };
  const notify: Record<string, unknown> = { name: 'operators' };
  if (a.webhookUrl) notify.webhook_configs = [{ url: a.webhookUrl, send_resolved: true }];
  if (a.email.to) {
    Object.assign(global, {
      smtp_smarthost: a.email.smarthost,
      smtp_from: a.email.from,
      smtp_require_tls: a.email.requireTls,
      ...(a.email.username ? { smtp_auth_username: a.email.username, smtp_auth_password: a.email.password } : {}),
    });
    notify.email_configs = [{ to: a.email.to, send_resolved: true }];
  }
  if (a.slackWebhookUrl) notify.slack_configs = [{ api_url: a.slackWebhookUrl, send_resolved: true }];
  if (a.discordWebhookUrl) notify.discord_configs = [{ webhook_url: a.discordWebhookUrl, send_resolved: true }];
  if (a.telegram.botToken) notify.telegram_configs = [{ bot_token: a.telegram.botToken, chat_id: Number(a.telegram.chatId), send_resolved: true }];
  const heartbeat: Record<string, unknown> = { name: 'heartbeat' };
  if (a.heartbeatUrl) heartbeat.webhook_configs = [{ url: a.heartbeatUrl, send_resolved: false }];
  const doc = {
    global,
    route: {
      receiver: 'operators',
      group_by: ['alertname', 'service', 'target', 'program'],
      group_wait: timings.groupWait,
      group_interval: timings.groupInterval,
      repeat_interval: timings.repeatInterval,
      routes: [
        // The dead man's switch: pinged every minute while the whole path works.
        { receiver: 'heartbeat', matchers: ['alertname="Watchdog"'], group_wait: '0s', group_interval: '1m', repeat_interval: '1m' },
      ],
    },
    // A process that is down is also not ready: say it once.
    inhibit_rules: [{ source_matchers: ['alertname="TapstackProcessDown"'], target_matchers: ['alertname="TapstackProcessNotReady"'], equal: ['service'] }],
    receivers: [notify, heartbeat],
  };
  return `# Rendered by \`tapstack setup\` from TAPSTACK_ALERT_* settings (cli/setup/monitoring-templates.ts); do not edit.\n${JSON.stringify(doc, null, 2)}\n`;
}

/** The supervisord programs of TAPSTACK_MONITORING (included by supervisord.conf). */
export function renderSupervisorPrograms(config: Config, paths: { monitoringDir: string; dataDir: string }): string {
  const m = config.monitoring;
  const common = ['autorestart=true', 'startsecs=3', 'startretries=10', 'stopsignal=TERM', 'stopwaitsecs=30', 'stdout_logfile=/dev/fd/1', 'stdout_logfile_maxbytes=0', 'redirect_stderr=true'];
  return [
    '; Rendered by `tapstack setup` because TAPSTACK_MONITORING is on (cli/setup/monitoring-templates.ts).',
    '[program:prometheus]',
    `command=prometheus --config.file=${paths.monitoringDir}/prometheus/prometheus.yml --storage.tsdb.path=${paths.dataDir}/prometheus --storage.tsdb.retention.time=${m.retention} --web.listen-address=${m.host}:${m.prometheusPort} --web.enable-lifecycle --log.format=json`,
    'priority=50',
    ...common,
    '',
    '[program:alertmanager]',
    `command=prometheus-alertmanager --config.file=${paths.monitoringDir}/alertmanager/alertmanager.yml --storage.path=${paths.dataDir}/alertmanager --web.listen-address=${m.host}:${m.alertmanagerPort} --cluster.listen-address= --log.format=json`,
    'priority=50',
    ...common,
    '',
  ].join('\n');
}
