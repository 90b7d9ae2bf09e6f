/**
 * The compose `monitoring` and `logs` profiles pass the same generic checks as the appliance's
 * services (deploy-compose.test.ts): health checks, limits, pinned images, restart and log policy,
 * no root, named volumes, no published port but Grafana's on loopback; and each reads the files
 * setup renders or copies into the runtime volume (cli/setup/monitoring.ts).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { REPO, asArgv, cpus, durationMs, loadCompose, memoryMiB, serviceEnv, type ComposeService } from '../helpers/deploy-files.js';

const compose = loadCompose();
const PROFILES: Record<string, string[]> = {
  monitoring: ['prometheus', 'alertmanager', 'grafana', 'node-exporter'],
  logs: ['loki', 'alloy'],
};
const names = Object.values(PROFILES).flat();
const svc = (name: string) => compose.services[name] as ComposeService;
/** Host paths a profile service legitimately mounts (read-only), with the reason in the compose file. */
const HOST_MOUNTS: Record<string, string> = { 'node-exporter': '/', alloy: '/var/run/docker.sock' };
/** Where setup puts the monitoring files in the runtime volume → where they come from in the repo. */
const RUNTIME = '/run/tapstack/monitoring/';
const repoFileFor = (p: string) => {
  const rel = p.slice(RUNTIME.length);
  if (rel === 'prometheus/prometheus.yml') return 'monitoring/prometheus/prometheus.yml.template';
  if (rel === 'alertmanager/alertmanager.yml') return 'cli/setup/monitoring-templates.ts';
  return `monitoring/${rel}`;
};

function mounts(s: ComposeService) {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = '', mode = ''] = typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target ?? '', v.read_only ? 'ro' : ''];
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

test('each profile has its services, and only they carry a profile', (t) => {
  for (const [profile, services] of Object.entries(PROFILES)) {
    for (const name of services) t.deepEqual(svc(name)?.profiles, [profile], `${name} in profile ${profile}`);
  }
  const withProfile = Object.entries(compose.services).filter(([, s]) => s.profiles !== undefined).map(([n]) => n);
  t.deepEqual(withProfile.sort(), [...names].sort());
});

test('docker-compose 1.29 lists every profile service and accepts the profiles', (t) => {
  const r = spawnSync('docker-compose', ['-f', 'docker-compose.yaml', '--profile', 'monitoring', '--profile', 'logs', 'config', '--services'], { cwd: REPO, encoding: 'utf8' });
  // 1.29 refuses depends_on.restart of the core services (deploy-compose.test.ts sets it aside).
  const listed = r.stdout.split('\n').filter(Boolean);
  if (r.status === 0) for (const n of names) t.true(listed.includes(n), n);
  else t.regex(r.stderr, /depends_on contains unsupported option: 'restart'/, r.stderr);
});

test('protocol-level health checks, limits, pinned images, restart and log policy on every profile service', (t) => {
  for (const name of names) {
    const s = svc(name);
    const hc = s.healthcheck;
    const argv = asArgv(hc?.test);
    t.is(argv[0], 'CMD', `${name}: CMD health check`);
    const cmd = argv.slice(1).join(' ');
    t.regex(cmd, /http:\/\/127\.0\.0\.1:\d+\/|GET \/-\/ready/, `${name}: asks an HTTP endpoint, not an open port`);
    for (const key of ['interval', 'timeout', 'start_period'] as const) t.true(durationMs(hc?.[key]) > 0, `${name}: healthcheck.${key}`);
    t.true((hc?.retries ?? 0) >= 2 && durationMs(hc?.timeout) < durationMs(hc?.interval), `${name}: retries, timeout < interval`);
    const r = s.deploy?.resources;
    for (const v of [r?.limits, r?.reservations]) t.true(cpus(v?.cpus) > 0 && memoryMiB(v?.memory) > 0, `${name}: limits and reservations`);
    t.true(cpus(r?.reservations?.cpus) <= cpus(r?.limits?.cpus) && memoryMiB(r?.reservations?.memory) <= memoryMiB(r?.limits?.memory), `${name}: reservation <= limit`);
    t.regex(s.image ?? '', /^[a-z0-9._/-]+:v?\d+\.\d+\.\d+$/, `${name}: exact version`);
    t.is(s.restart, 'unless-stopped', `${name}: restart`);
    t.is(s.logging?.driver, 'json-file', `${name}: log rotation`);
    t.true(durationMs(s.stop_grace_period) > 0, `${name}: stop grace`);
    t.deepEqual(s.cap_drop, ['ALL'], `${name}: no capabilities`);
    t.deepEqual(s.security_opt, ['no-new-privileges:true'], `${name}: no-new-privileges`);
  }
});

test('uid 10001 everywhere but Alloy (root only to read the Docker socket, without capabilities)', (t) => {
  for (const name of names) t.is(svc(name).user, name === 'alloy' ? '0:0' : '10001:10001', name);
});

test('only Grafana publishes a port, on loopback', (t) => {
  for (const name of names.filter((n) => n !== 'grafana')) t.deepEqual(svc(name).ports ?? [], [], name);
  t.deepEqual(svc('grafana').ports, ['127.0.0.1:3000:3000']);
});

test('named volumes (first mounted by setup, so they belong to uid 10001), host paths only read-only where documented', (t) => {
  const declared = Object.keys(compose.volumes ?? {});
  const setupMounts = mounts(svc('setup')).map((m) => m.source);
  for (const name of names) {
    for (const m of mounts(svc(name))) {
      if (m.source.startsWith('/')) {
        t.is(HOST_MOUNTS[name], m.source, `${name}: host path ${m.source}`);
        t.true(m.readOnly, `${name}: ${m.source} read-only`);
        continue;
      }
      t.true(declared.includes(m.source), `${name}: volume ${m.source} declared`);
      t.true(setupMounts.includes(m.source), `${name}: setup mounts ${m.source} first`);
      if (m.source === 'runtime' || m.source === 'data') t.true(m.readOnly, `${name}: ${m.source} read-only`);
    }
  }
  const dockerfile = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  for (const v of ['prometheus', 'alertmanager', 'grafana', 'loki']) t.regex(dockerfile, new RegExp(`/var/lib/tapstack/${v}\\b`), `the app image owns /var/lib/tapstack/${v}`);
});

test('every monitoring file a service names exists: shipped in monitoring/ or rendered by setup', (t) => {
  let seen = 0;
  for (const name of names) {
    const s = svc(name);
    const words = [...asArgv(s.command), ...Object.values(serviceEnv(s))].join(' ');
    for (const [p] of words.matchAll(/\/run\/tapstack\/monitoring\/[\w./-]+/g)) {
      seen += 1;
      t.true(fs.existsSync(path.join(REPO, repoFileFor(p))), `${name}: ${p} (from ${repoFileFor(p)})`);
    }
  }
  t.true(seen >= 5, `${seen} files named`);
});

test('Grafana: generated admin password from the data volume, provisioning from the runtime volume, no sign-up', (t) => {
  const env = serviceEnv(svc('grafana'));
  t.is(env.GF_SECURITY_ADMIN_PASSWORD__FILE, '/tapstack-data/secrets/grafana-admin-password');
  t.false('GF_SECURITY_ADMIN_PASSWORD' in env, 'never inline');
  t.is(env.GF_PATHS_PROVISIONING, '/run/tapstack/monitoring/grafana/provisioning');
  t.is(env.GF_USERS_ALLOW_SIGN_UP, 'false');
  t.true(mounts(svc('grafana')).some((m) => m.source === 'data' && m.target === '/tapstack-data' && m.readOnly));
});
