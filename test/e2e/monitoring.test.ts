/**
 * Monitoring, live: a real Prometheus and Alertmanager (Debian's) with the configuration setup
 * renders, scraping the native appliance. Every target is up; stopping the writer fires
 * TapstackProcessDown, which reaches a webhook receiver and an SMTP server through Alertmanager
 * and resolves once the writer runs again; every dashboard query runs without error and the core
 * panels return data.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../../services/shared/config.js';
import { startAppliance, type Appliance } from '../helpers/appliance.js';
import { startMonitoring, startSmtpSink, startWebhookSink, type Monitoring } from '../helpers/monitoring.js';
import { waitFor } from '../helpers/ports.js';
import { dashboardQueries, CORE_PANELS } from '../helpers/dashboards.js';

let app: Appliance | undefined;
let mon: Monitoring | undefined;
let hook: Awaited<ReturnType<typeof startWebhookSink>>;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;

test.before(async () => {
  hook = await startWebhookSink();
  smtp = await startSmtpSink();
  app = await startAppliance({
    extraEnv: {
      TAPSTACK_ALERT_WEBHOOK_URL: hook.url,
      TAPSTACK_ALERT_EMAIL_TO: 'operator@example.test',
      TAPSTACK_ALERT_SMTP_SMARTHOST: smtp.url,
      TAPSTACK_ALERT_SMTP_REQUIRE_TLS: 'false',
    },
  });
  mon = await startMonitoring(loadConfig(app.env));
});

test.after.always(async () => {
  await mon?.stop();
  await app?.stop();
  await hook?.stop();
  await smtp?.stop();
});

const firing = (name: string, service: string, status: 'firing' | 'resolved') =>
  hook.received.some((p) => p.alerts.some((a) => a.labels.alertname === name && a.labels.service === service && a.status === status));

test.serial('every scrape target is up: each Tapstack process, the health listener, Prometheus, Alertmanager', async (t) => {
  const targets = await waitFor(
    async () => {
      const body = (await (await fetch(`${mon!.prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; labels: Record<string, string>; lastError: string }[] } };
      const active = body.data.activeTargets;
      return active.length > 0 && active.every((x) => x.health === 'up') ? active : undefined;
    },
    'every target up',
    60_000,
    500,
  );
  const services = targets.filter((x) => x.labels.job === 'tapstack').map((x) => x.labels.service).sort();
  t.deepEqual(services, ['api', 'archiver', 'backup', 'health-listener', 'ingest', 'quoter', 'realtime', 'resolver', 'scheduler', 'writer']);
  t.true(targets.some((x) => x.labels.job === 'prometheus') && targets.some((x) => x.labels.job === 'alertmanager'));
});

test.serial('every dashboard panel query runs without error; the core panels return data', async (t) => {
  const queries = dashboardQueries();
  t.true(queries.length >= 25, `${queries.length} panel queries`);
  for (const core of CORE_PANELS) t.true(queries.some((q) => `${q.dashboard}/${q.panel}` === core), `core panel ${core} exists`);
  // Rates need two samples in their window: wait until the core panels have data, then check all.
  const core = queries.filter((x) => CORE_PANELS.has(`${x.dashboard}/${x.panel}`));
  let empty: string[] = [];
  await waitFor(
    async () => {
      empty = [];
      for (const q of core) if (((await mon!.query(q.expr)).data?.result.length ?? 0) === 0) empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
      return empty.length === 0;
    },
    'data in every core panel',
    15_000,
    1000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; still empty:\n${empty.join('\n')}`);
  });
  for (const q of queries) {
    const r = await mon!.query(q.expr);
    t.is(r.status, 'success', `${q.dashboard} / ${q.panel}: ${q.expr}: ${r.error ?? ''}`);
  }
  t.true(CORE_PANELS.size >= 10);
});

test.serial('the writer stopped: TapstackProcessDown reaches the webhook and the mailbox, and resolves when it is back', async (t) => {
  t.true((await app!.supervisorctl('stop', 'writer')).includes('stopped'));
  await waitFor(() => firing('TapstackProcessDown', 'writer', 'firing'), 'the firing alert at the webhook', 60_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}\n${mon!.output().slice(-3000)}`);
  });
  const mail = await waitFor(() => smtp.received.find((m) => m.text.includes('TapstackProcessDown')), 'the alert e-mail', 60_000, 250);
  t.deepEqual(mail.to, ['operator@example.test']);
  t.regex(mail.text, /writer/);
  t.true((await app!.supervisorctl('start', 'writer')).includes('started'));
  await waitFor(() => firing('TapstackProcessDown', 'writer', 'resolved'), 'the resolved notification at the webhook', 60_000, 250);
  await waitFor(() => smtp.received.some((m) => /RESOLVED/.test(m.text) && m.text.includes('TapstackProcessDown')), 'the resolved e-mail', 60_000, 250);
  // The always-firing Watchdog goes to the heartbeat route, never to the operators.
  t.false(hook.received.some((p) => p.alerts.some((a) => a.labels.alertname === 'Watchdog')));
});

test('the shipped rule files are all loaded by that Prometheus', async (t) => {
  const body = (await (await fetch(`${mon!.prometheus}/api/v1/rules`)).json()) as { data: { groups: { file: string; rules: { name: string }[] }[] } };
  const files = new Set(body.data.groups.map((g) => path.basename(g.file)));
  for (const f of fs.readdirSync(path.join(process.cwd(), 'monitoring', 'prometheus', 'rules'))) t.true(files.has(f), f);
  t.true(body.data.groups.flatMap((g) => g.rules).some((r) => r.name === 'TapstackProcessDown'));
});
