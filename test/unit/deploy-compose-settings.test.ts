/**
 * Static checks of docker-compose.yaml, continued (deploy-compose.test.ts has validation, services,
 * health, dependencies and resources): published ports, volumes, pinned images, users, settings,
 * addresses, secrets, and the files the services name inside the image.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { REPO, asArgv, imagePathToRepo, serviceEnv, sourceOf } from '../helpers/deploy-files.js';
import { appServices, compose, KNOWN_ENVS, names, ONE_SHOT, pkg, renderedRedisConf, SECRET_ENVS, serviceConfig, services, volumeMounts } from '../helpers/compose-fixture.js';

test('only nginx publishes ports: 80 -> 8000 and 443 -> 8443, the ports setup renders it on', (t) => {
  for (const name of names.filter((n) => n !== 'nginx')) t.deepEqual(services[name]!.ports ?? [], [], `${name} publishes no port`);
  const cfg = serviceConfig('setup');
  t.deepEqual(services.nginx?.ports, [`80:${cfg.appliance.nginxHttpPort}`, `443:${cfg.appliance.nginxHttpsPort}`]);
  t.is(cfg.appliance.nginxHttpPort, 8000);
  t.is(cfg.appliance.nginxHttpsPort, 8443);
});

test('named volumes only: declared, used, mounted where the settings point', (t) => {
  const declared = Object.keys(compose.volumes ?? {});
  t.deepEqual([...declared].sort(), ['alertmanager', 'data', 'grafana', 'loki', 'prometheus', 'redis', 'runtime', 'tls']);
  const used = new Set<string>();
  for (const name of names) {
    for (const m of volumeMounts(services[name]!)) {
      t.notRegex(m.source, /^[./~]/, `${name}: ${m.source} is a named volume, not a bind mount`);
      t.true(declared.includes(m.source), `${name}: volume ${m.source} is declared`);
      used.add(m.source);
    }
  }
  t.deepEqual([...used].sort(), [...declared].sort(), 'every declared volume is used');
  for (const name of appServices) {
    const cfg = serviceConfig(name);
    t.true(volumeMounts(services[name]!).some((m) => m.source === 'data' && m.target === cfg.dataDir && !m.readOnly), `${name}: data volume at ${cfg.dataDir}`);
  }
  const setup = volumeMounts(services.setup!);
  const setupEnv = serviceEnv(services.setup!);
  t.true(setup.some((m) => m.source === 'tls' && m.target === setupEnv.TAPSTACK_TLS_DIR), 'setup writes the TLS volume');
  t.true(setup.some((m) => m.source === 'runtime' && m.target === setupEnv.TAPSTACK_RUN_DIR), 'setup renders into the runtime volume');
  const nginx = volumeMounts(services.nginx!);
  t.true(nginx.some((m) => m.source === 'tls' && m.target === setupEnv.TAPSTACK_TLS_DIR && m.readOnly), 'nginx reads TLS where setup wrote it');
  t.true(nginx.some((m) => m.source === 'runtime' && m.target === setupEnv.TAPSTACK_RUN_DIR), 'nginx reads the rendered config');
  t.true(asArgv(services.nginx?.entrypoint).includes(`${setupEnv.TAPSTACK_RUN_DIR}/nginx.conf`), 'nginx runs the rendered nginx.conf');
});

test('every image is pinned to an explicit version; app services share the one app image', (t) => {
  for (const name of names) {
    const image = services[name]!.image ?? '';
    const m = /^([a-z0-9._/-]+):([A-Za-z0-9._-]+)$/.exec(image);
    t.truthy(m, `${name}: image ${image} has an explicit tag`);
    t.not(m?.[2], 'latest', `${name}: not latest`);
    t.regex(m?.[2] ?? '', /^\d+\.\d+\.\d+/, `${name}: an exact version, not a moving major tag`);
  }
  for (const name of appServices) {
    t.is(services[name]!.image, `tapstack/app:${pkg.version}`, `${name}: the app image at the package version`);
    t.is(services[name]!.pull_policy, 'build', `${name}: built from this checkout, never pulled`);
  }
  t.regex(services.redis?.image ?? '', /^redis:7\.2\.\d+-alpine$/);
  t.regex(services.nginx?.image ?? '', /^nginxinc\/nginx-unprivileged:\d+\.\d+\.\d+-alpine$/);
});

test('no service runs as root', (t) => {
  for (const name of names) {
    const user = services[name]!.user;
    if (user !== undefined) t.notRegex(String(user), /^(0|root)(:|$)/, `${name}: user ${user}`);
  }
  // Images that start as root by default run as the appliance's uid, which owns the files they read.
  t.is(services.redis?.user, '10001:10001');
  t.is(services.nginx?.user, '10001:10001');
});

test('every environment name is a real TAPSTACK_* setting and every app env loads', (t) => {
  for (const name of names) {
    for (const key of Object.keys(serviceEnv(services[name]!))) {
      t.true(KNOWN_ENVS.has(key), `${name}: ${key} is not a Tapstack setting (config.ts CONFIG_SPEC)`);
    }
  }
  for (const name of appServices) t.notThrows(() => serviceConfig(name), `${name}: loadConfig accepts its environment`);
});

test('app processes bind every interface and nginx reaches them where they listen', (t) => {
  for (const name of appServices) {
    const c = serviceConfig(name);
    t.is(c.http.host, '0.0.0.0', `${name}: TAPSTACK_HTTP_HOST`);
    t.is(c.realtime.host, '0.0.0.0', `${name}: TAPSTACK_REALTIME_HOST`);
    t.is(c.workers.host, '0.0.0.0', `${name}: TAPSTACK_WORKER_HOST`);
    t.is(c.appliance.apiUpstream, `api:${serviceConfig('api').http.port}`, `${name}: TAPSTACK_API_UPSTREAM`);
    t.is(c.appliance.realtimeUpstream, `realtime:${serviceConfig('realtime').realtime.port}`, `${name}: TAPSTACK_REALTIME_UPSTREAM`);
    t.is(c.appliance.dataRequireMount, true, `${name}: TAPSTACK_DATA_REQUIRE_MOUNT`);
  }
});

test('the processes reach redis where the rendered redis.conf makes it listen', (t) => {
  const conf = renderedRedisConf();
  t.regex(conf, /^bind \* -::\*$/m, 'every interface of the project network');
  const port = /^port (\d+)$/m.exec(conf)?.[1];
  t.truthy(port);
  t.true(asArgv(services.redis?.healthcheck?.test).join(' ').includes(`-p ${port} `), 'the health check asks that port');
  for (const name of appServices) {
    const url = new URL(serviceConfig(name).redis.url);
    t.is(url.hostname, 'redis', name);
    t.is<string | undefined, string | undefined>(url.port || '6379', port, name);
  }
});

test('secrets come from files only: no inline password, *_FILE into the data volume', (t) => {
  const secretName = /PASSWORD|PASSPHRASE|SECRET|TOKEN|PRIVATE|_KEY$/;
  for (const name of names) {
    const env = serviceEnv(services[name]!);
    for (const [key, value] of Object.entries(env)) {
      if (key.endsWith('_FILE')) continue;
      t.false(secretName.test(key) && value !== '', `${name}: ${key} carries a secret inline; use ${key}_FILE`);
    }
    for (const secret of SECRET_ENVS) t.false(secret in env, `${name}: ${secret} is set inline; use ${secret}_FILE`);
    const file = env.TAPSTACK_REDIS_PASSWORD_FILE;
    if (file !== undefined) t.true(file.startsWith(`${env.TAPSTACK_DATA_DIR}/secrets/`), `${name}: the password file is setup's, in the data volume`);
    const words = [...asArgv(services[name]!.command), ...asArgv(services[name]!.entrypoint), ...asArgv(services[name]!.healthcheck?.test)].join(' ');
    t.notRegex(words, /--requirepass|redis-cli .*-a\s|:\/\/[^/@\s]*:[^/@\s]+@/, `${name}: no password on a command line`);
  }
  for (const [secret, spec] of Object.entries(compose.secrets ?? {})) t.truthy(spec.file, `secret ${secret} comes from a file`);
  for (const name of appServices.filter((n) => !ONE_SHOT.has(n))) t.truthy(serviceEnv(services[name]!).TAPSTACK_REDIS_PASSWORD_FILE, `${name} reads the Redis password file`);
});

// Files the services name inside the image, mapped to the repository. Each file is its own test so a
// file another change has not delivered yet fails alone, with its name, and passes once it lands.
const referenced = new Map<string, Set<string>>();
for (const name of appServices) {
  const s = services[name]!;
  for (const arg of [...asArgv(s.entrypoint), ...asArgv(s.command), ...asArgv(s.healthcheck?.test)]) {
    const repoPath = imagePathToRepo(arg);
    if (repoPath) referenced.set(repoPath, (referenced.get(repoPath) ?? new Set()).add(name));
  }
}
for (const [file, users] of [...referenced].sort(([a], [b]) => a.localeCompare(b))) {
  test(`/app/${file}, named by ${[...users].join(', ')}, exists in the image`, (t) => {
    const exists = fs.existsSync(path.join(REPO, file));
    if (exists) return t.pass();
    const src = file.startsWith('dist/') ? sourceOf(file) : file;
    const pending = !fs.existsSync(path.join(REPO, src));
    t.fail(
      pending
        ? `PENDING: ${src} is not written yet (another change delivers it); ${file} is what the image runs`
        : `${file} is missing from the build output: run \`npx tsc -p tsconfig.json\` (source ${src} exists)`,
    );
  });
}

test('the `tapstack` command setup runs is on the PATH of the image and has a `setup` subcommand', (t) => {
  t.true(fs.existsSync(path.join(REPO, 'bin', 'tapstack')), 'bin/tapstack (linked to /usr/local/bin/tapstack by the Dockerfile)');
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'setup', '--help'], { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  t.is(r.status, 0, `PENDING until \`tapstack setup\` lands (another change delivers it): ${r.stderr.trim()}`);
});

test('the app image owns every directory it mounts a volume on (so new volumes belong to uid 10001)', (t) => {
  // Docker gives an empty named volume the owner of the image directory it is first mounted on;
  // setup (app image, uid 10001) mounts every volume first, redis and nginx run as 10001 too.
  const dockerfile = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  const mkdir = /mkdir -p ([^\\&\n]+)/.exec(dockerfile)?.[1]?.trim().split(/\s+/) ?? [];
  const chown = /chown tapstack:tapstack ([^\\&\n]+)/.exec(dockerfile)?.[1]?.trim().split(/\s+/) ?? [];
  const firstMounts = volumeMounts(services.setup!);
  t.deepEqual([...new Set(firstMounts.map((m) => m.source))].sort(), Object.keys(compose.volumes ?? {}).sort(), 'setup mounts every volume');
  for (const m of firstMounts) {
    t.true(mkdir.includes(m.target), `the Dockerfile creates ${m.target}`);
    t.true(chown.includes(m.target), `the Dockerfile gives ${m.target} to tapstack`);
  }
  const redisFirst = firstMounts.find((m) => m.source === 'redis');
  t.regex(dockerfile, new RegExp(`touch ${redisFirst?.target}/\\S+`), 'the redis volume starts non-empty');
  for (const name of ['redis', 'nginx']) {
    for (const m of volumeMounts(services[name]!)) t.false(m.target === '/data' && m.source !== 'redis', `${name}: never the data volume on an image's /data`);
  }
});
