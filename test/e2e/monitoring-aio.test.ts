/**
 * TAPSTACK_MONITORING=true in the AIO runtime (native run: the image's supervisord.conf and
 * entrypoint): setup renders the supervisord programs, Debian's Prometheus and Alertmanager run
 * supervised with the rendered configuration and the shipped rules, scrape every process, and the
 * health listener and the image's HEALTHCHECK cover them like every other program.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { applianceHealthy, startAppliance, type Appliance } from '../helpers/appliance.js';
import { waitFor } from '../helpers/ports.js';

let app: Appliance | undefined;

test.before(async () => {
  app = await startAppliance({ extraEnv: { TAPSTACK_MONITORING: 'true' } });
});

test.after.always(async () => {
  await app?.stop();
});

test('Prometheus and Alertmanager run under supervisord, scrape every process and evaluate the shipped rules', async (t) => {
  const a = app!;
  await waitFor(async () => {
    const s = await a.states();
    return s.prometheus === 'RUNNING' && s.alertmanager === 'RUNNING';
  }, 'prometheus and alertmanager RUNNING', 60_000, 500);
  const prom = `http://127.0.0.1:${a.ports.prometheus}`;
  // The default 15 s scrape interval: the first scrape of every target within a minute.
  const targets = await waitFor(
    async () => {
      const body = (await (await fetch(`${prom}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; labels: Record<string, string> }[] } };
      const active = body.data.activeTargets;
      return active.length >= 11 && active.every((x) => x.health === 'up') ? active : undefined;
    },
    'every target up',
    90_000,
    1000,
  );
  t.true(targets.some((x) => x.labels.service === 'health-listener'));
  const watchdog = await waitFor(
    async () => {
      const body = (await (await fetch(`http://127.0.0.1:${a.ports.alertmanager}/api/v2/alerts`)).json()) as { labels: Record<string, string> }[];
      return body.find((x) => x.labels.alertname === 'Watchdog');
    },
    'the Watchdog at Alertmanager',
    90_000,
    1000,
  );
  t.is(watchdog.labels.severity, 'none');
  const rules = (await (await fetch(`${prom}/api/v1/rules`)).json()) as { data: { groups: { file: string }[] } };
  const shipped = fs.readdirSync(path.join(process.cwd(), 'monitoring', 'prometheus', 'rules'));
  t.deepEqual([...new Set(rules.data.groups.map((g) => path.basename(g.file)))].sort(), shipped.sort());
  t.true(fs.existsSync(path.join(a.dataDir, 'prometheus')), 'the TSDB lives under the data volume');
  await waitFor(() => applianceHealthy(a), 'the HEALTHCHECK passes with the monitoring programs', 60_000, 1000);
  t.is(a.health()?.programs.prometheus?.state, 'RUNNING', 'the health listener supervises Prometheus');
});
