/**
 * Static checks of docker-compose.yaml (no Docker engine needed, ../shared/TOOLING.md): Compose 1.29's
 * own validation, the Compose Specification schema, the services and how they run, health checks,
 * dependencies, resources, restart and logging. Ports, volumes, images, users, settings, secrets and
 * referenced files: deploy-compose-settings.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Ajv } from 'ajv';
import { COMPOSE_FILE, REPO, appProcesses, asArgv, cpus, durationMs, memoryMiB, serviceEnv } from '../helpers/deploy-files.js';
import { BET_PATH_NODE_FLAGS } from '../../bench/stack.js';
import { appServices, compose, dockerCompose, longRunning, names, ONE_SHOT, READY_PORT, renderedRedisConf, runArgv, serviceConfig, services, volumeMounts } from '../helpers/compose-fixture.js';

// file without it must pass 1.29's complete `config` (references, durations, conditions...).
test('docker-compose 1.29 config rejects nothing but depends_on.restart, which it predates', (t) => {
  const r = dockerCompose(['-f', COMPOSE_FILE, 'config']);
  if (r.error) return t.fail(`docker-compose is not installed (scripts/setup.sh --test installs it): ${r.error.message}`);
  if (r.status === 0) return t.pass();
  const problems = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^The Compose file .* is invalid because:$/.test(l) && !/^services\.[\w.-]+\.depends_on contains unsupported option: 'restart'$/.test(l));
  t.deepEqual(problems, [], r.stderr);
});

test('docker-compose 1.29 full config (not -q) passes once depends_on.restart is set aside', (t) => {
  const source = fs.readFileSync(COMPOSE_FILE, 'utf8');
  const withoutRestart = source.replace(/^\s*restart: true\s*\n/gm, '');
  t.not(withoutRestart, source, 'the compose file restarts dependents (depends_on restart: true)');
  const r = dockerCompose(['-f', '-', '--project-directory', REPO, 'config'], withoutRestart);
  if (r.error) return t.fail(`docker-compose is not installed (scripts/setup.sh --test installs it): ${r.error.message}`);
  t.is(r.status, 0, r.stderr);
  for (const name of names) t.regex(r.stdout, new RegExp(`^  ${name}:$`, 'm'));
});

test('the compose file validates against the Compose Specification schema', (t) => {
  const schemaFile = path.join(process.cwd(), '..', 'shared', 'schemas', 'compose-spec.json');
  if (!fs.existsSync(schemaFile)) {
    t.log(`SKIPPED: ${schemaFile} is absent (the Compose Specification schema lives outside the repo)`);
    return t.pass();
  }
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
  delete schema.$schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const ok = validate(compose);
  t.true(ok, ajv.errorsText(validate.errors, { separator: '\n' }));
});

test('no top-level name: or version: (Compose 1.29 rejects the first, v2 warns on the second)', (t) => {
  t.false('name' in compose);
  t.false('version' in compose);
});

/** What a service's container runs: its entrypoint followed by its command. */
test('every app process has its own service running its compiled main.js', (t) => {
  for (const proc of appProcesses()) {
    const s = services[proc];
    if (!s) {
      t.fail(`services/${proc}/main.ts has no compose service`);
      continue;
    }
    t.true(appServices.includes(proc), `${proc} uses the app image`);
    const argv = runArgv(s);
    t.is(argv[0], 'node', `${proc} runs node`);
    t.is(argv[argv.length - 1], `/app/dist/services/${proc}/main.js`, `${proc} runs /app/dist/services/${proc}/main.js`);
  }
  t.true(appServices.includes('setup'), 'the one-shot setup runs from the app image');
  t.deepEqual(runArgv(services.setup!), ['tapstack', 'setup']);
});

test('the bet path (api, writer, realtime) runs with the same V8 flags in compose, the AIO supervisord.conf and the bench', (t) => {
  const supervisord = fs.readFileSync(path.join(REPO, 'supervisord.conf'), 'utf8');
  for (const proc of ['api', 'writer', 'realtime']) {
    const argv = runArgv(services[proc]!);
    for (const flag of BET_PATH_NODE_FLAGS) t.true(argv.includes(flag), `compose ${proc}: ${argv.join(' ')}`);
    const command = supervisord.split('\n').find((l) => l.startsWith('command=') && l.includes(`/dist/services/${proc}/main.js`)) ?? '';
    const words = command.split(/\s+/);
    for (const flag of BET_PATH_NODE_FLAGS) t.true(words.indexOf(flag) > words.indexOf('node') && words.indexOf('node') >= 0, `supervisord ${proc}: ${command}`);
  }
});

test('app services run their process directly: setup runs once, in the one-shot service', (t) => {
  // The image's entrypoint runs `tapstack setup` before any command; under compose that is the
  // setup service's job, so every app service names its own entrypoint.
  for (const name of appServices) {
    const entrypoint = asArgv(services[name]!.entrypoint);
    t.true(entrypoint.length > 0, `${name} sets its entrypoint`);
    t.false(entrypoint.some((a) => a.endsWith('/entrypoint.sh')), `${name} does not re-run setup`);
  }
  // Only setup writes the TLS and runtime volumes; the processes get the data volume alone, except
  // that the backup service reads the TLS volume (read-only) to include the certificate material,
  // and the scheduler reads it (read-only) for the certificate-expiry metric.
  for (const name of appServices.filter((n) => !ONE_SHOT.has(n))) {
    const mounts = volumeMounts(services[name]!);
    const extra = mounts.filter((m) => m.source !== 'data');
    t.deepEqual(mounts.filter((m) => m.source === 'data').length, 1, `${name} mounts the data volume`);
    if (name === 'backup' || name === 'scheduler') t.true(extra.every((m) => m.source === 'tls' && m.readOnly), `${name} reads the TLS volume, read-only`);
    else t.deepEqual(extra, [], `${name} mounts the data volume only`);
  }
});

test('every long-running service has a protocol-level health check; one-shot setup has none', (t) => {
  for (const name of longRunning) {
    const hc = services[name]!.healthcheck;
    t.truthy(hc, `${name} has a healthcheck`);
    t.not(hc?.disable, true, `${name} health check is not disabled`);
    const argv = asArgv(hc?.test);
    t.true(argv[0] === 'CMD' || argv[0] === 'CMD-SHELL', `${name}: test is CMD or CMD-SHELL`);
    const cmd = argv.slice(1).join(' ');
    t.notRegex(cmd, /\bnc\b|\/dev\/tcp|netstat|\bss\b/, `${name}: not just an open port`);
    for (const key of ['interval', 'timeout', 'start_period'] as const) t.true(durationMs(hc?.[key]) > 0, `${name}: healthcheck.${key}`);
    t.true((hc?.retries ?? 0) >= 2, `${name}: healthcheck.retries`);
    t.true(durationMs(hc?.timeout) < durationMs(hc?.interval), `${name}: timeout < interval`);
  }
  for (const name of ONE_SHOT) t.is(services[name]?.healthcheck, undefined, `${name} is one-shot`);
});

test('app health checks ask /readyz on the port each process is configured to listen on', (t) => {
  for (const [name, portOf] of Object.entries(READY_PORT)) {
    const s = services[name];
    if (!s) continue; // covered by "every app process has its own service"
    const port = portOf(serviceConfig(name));
    t.deepEqual(asArgv(s.healthcheck?.test), ['CMD', 'node', '/app/dist/healthchecks/http.js', `http://127.0.0.1:${port}/readyz`], name);
  }
});

test('redis is checked with an authenticated PING, nginx with its own /healthz over HTTPS', (t) => {
  const redis = asArgv(services.redis?.healthcheck?.test).join(' ');
  t.regex(redis, /redis-cli .*\bping\b/i);
  t.regex(redis, /grep -qx PONG/);
  const secret = /REDISCLI_AUTH="\$\(cat (\/tapstack-data)(\/\S+)\)"/.exec(redis);
  t.truthy(secret, 'the password comes from a file');
  const dataMount = volumeMounts(services.redis!).find((m) => m.target === secret?.[1]);
  t.is(dataMount?.source, 'data', 'the file is in the data volume');
  t.true(dataMount?.readOnly, 'mounted read-only');
  const cfg = serviceConfig('api');
  t.is<string | undefined, string | undefined>(`${cfg.dataDir}${secret?.[2]}`, serviceEnv(services.api!).TAPSTACK_REDIS_PASSWORD_FILE, 'the same file the processes read');
  const nginx = asArgv(services.nginx?.healthcheck?.test);
  const https = `https://127.0.0.1:${serviceConfig('setup').appliance.nginxHttpsPort}/healthz`;
  t.true(nginx.includes(https), `nginx probes ${https}`);
  t.true(nginx.includes('curl') && nginx.includes('-fsSk'), 'curl fails on an HTTP error');
});

test('dependencies wait for health (and restart with it); setup is waited for by exit code', (t) => {
  for (const name of names) {
    const deps = services[name]!.depends_on ?? {};
    t.false(Array.isArray(deps), `${name}: depends_on is the long form with conditions`);
    for (const [dep, spec] of Object.entries(deps as Record<string, { condition?: string; restart?: boolean }>)) {
      t.truthy(services[dep], `${name} depends on an existing service ${dep}`);
      if (ONE_SHOT.has(dep)) {
        t.is(spec.condition, 'service_completed_successfully', `${name} -> ${dep}`);
      } else {
        t.is(spec.condition, 'service_healthy', `${name} -> ${dep}`);
        t.is(spec.restart, true, `${name} -> ${dep}: restart: true`);
        t.truthy(services[dep]!.healthcheck, `${dep} has the health check ${name} waits for`);
      }
    }
    if (!ONE_SHOT.has(name)) t.is((deps as Record<string, { condition?: string }>).setup?.condition, 'service_completed_successfully', `${name} waits for setup`);
  }
  for (const name of appServices.filter((n) => !ONE_SHOT.has(n))) {
    t.is((services[name]!.depends_on as Record<string, { condition?: string }>).redis?.condition, 'service_healthy', `${name} waits for redis`);
  }
  for (const upstream of ['api', 'realtime']) {
    t.is((services.nginx?.depends_on as Record<string, { condition?: string }>)[upstream]?.condition, 'service_healthy', `nginx waits for ${upstream}`);
  }
});

test('every service has CPU and memory limits and reservations that fit a 2 vCPU / 4 GB host', (t) => {
  let cpuReserved = 0;
  let memReserved = 0;
  let memLimits = 0;
  for (const name of names) {
    const r = services[name]!.deploy?.resources;
    const limits = r?.limits;
    const reservations = r?.reservations;
    for (const [what, v] of [['limits', limits], ['reservations', reservations]] as const) {
      t.true(cpus(v?.cpus) > 0, `${name}: deploy.resources.${what}.cpus`);
      t.true(memoryMiB(v?.memory) > 0, `${name}: deploy.resources.${what}.memory`);
    }
    t.true(cpus(limits?.cpus) <= 2, `${name}: a limit above the host's 2 vCPUs`);
    t.true(cpus(reservations?.cpus) <= cpus(limits?.cpus), `${name}: cpu reservation <= limit`);
    t.true(memoryMiB(reservations?.memory) <= memoryMiB(limits?.memory), `${name}: memory reservation <= limit`);
    if (!ONE_SHOT.has(name)) {
      cpuReserved += cpus(reservations?.cpus);
      memReserved += memoryMiB(reservations?.memory);
      memLimits += memoryMiB(limits?.memory);
    }
  }
  t.true(cpuReserved <= 2, `reserved CPUs ${cpuReserved} fit 2 vCPUs`);
  t.true(memReserved <= 2048, `reserved memory ${memReserved} MiB leaves half the host free`);
  // All long-running limits at once still leave 512 MiB for the kernel, Docker and the page cache.
  t.true(memLimits <= 4096 - 512, `memory limits add up to ${memLimits} MiB`);
});

test('redis runs the rendered redis.conf, whose memory cap leaves copy-on-write headroom in its limit', (t) => {
  const argv = asArgv(services.redis?.command);
  t.deepEqual(argv.slice(0, 2), ['redis-server', '/run/tapstack/redis.conf'], 'started with the rendered redis.conf');
  t.true(volumeMounts(services.redis!).some((m) => m.source === 'runtime' && m.target === '/run/tapstack'), 'from the runtime volume');
  t.false(argv.some((a) => /requirepass|appendonly|appendfsync|maxmemory|save/i.test(a)), 'persistence, password and cap come from the rendered config');
  t.deepEqual(argv.slice(2), ['--dir', '/data'], 'only the data directory is the container\'s own');
  t.true(volumeMounts(services.redis!).some((m) => m.source === 'redis' && m.target === '/data' && !m.readOnly), 'the redis volume at /data');
  const conf = renderedRedisConf();
  // A `dir` line is applied while the file is read, before `--dir`: one naming setup's data
  // volume (absent in the redis container) made Redis refuse to start.
  t.notRegex(conf, /^dir /m, 'the rendered config leaves the directory to the redis container');
  t.regex(conf, /^appendonly yes$/m);
  t.regex(conf, /^appendfsync everysec$/m);
  t.regex(conf, /^save \d+/m, 'RDB snapshots');
  t.regex(conf, /^maxmemory-policy noeviction$/m);
  const maxmemory = memoryMiB(/^maxmemory (\S+)$/m.exec(conf)?.[1]?.replace(/b$/i, ''));
  const limit = memoryMiB(services.redis?.deploy?.resources?.limits?.memory);
  t.true(maxmemory > 0 && maxmemory <= limit * 0.7, `maxmemory ${maxmemory} MiB vs container limit ${limit} MiB`);
});

test('restart policy, log rotation and a stop grace period on every service; the writer may drain', (t) => {
  for (const name of names) {
    const s = services[name]!;
    if (ONE_SHOT.has(name)) t.is(s.restart, 'no', `${name}: a refusal stops \`up\` instead of looping`);
    else t.true(s.restart === 'unless-stopped' || s.restart === 'always', `${name}: restart policy`);
    t.is(s.logging?.driver, 'json-file', `${name}: logging driver`);
    t.regex(s.logging?.options?.['max-size'] ?? '', /^\d+[kmg]$/, `${name}: max-size`);
    t.regex(String(s.logging?.options?.['max-file'] ?? ''), /^\d+$/, `${name}: max-file`);
    t.true(durationMs(s.stop_grace_period) > 0, `${name}: stop_grace_period`);
  }
  t.true(durationMs(services.writer?.stop_grace_period) >= 30_000, 'the writer gets at least 30 s to drain');
  for (const name of appServices.filter((n) => !ONE_SHOT.has(n))) {
    const timeout = serviceConfig(name).shutdownTimeoutMs;
    t.true(timeout < durationMs(services[name]!.stop_grace_period), `${name}: shuts down by itself (${timeout} ms) before SIGKILL`);
  }
});

