/**
 * docker-compose.yaml as a self-hoster runs it (DEPLOY.md "Compose"), driven by docker-compose
 * 1.29 through podman's Docker API: the app image built from ./Dockerfile unmodified, the redis and
 * nginx images as local stand-ins under the names the file uses. Every service healthy in
 * dependency order, played through its nginx, Redis restarted, the stack taken down and up again,
 * a scheduled backup, the resource limits and file modes.
 *
 * The one derived change: docker-compose 1.29 predates `depends_on.<service>.restart` (Compose
 * v2.17) and rejects the file because of it, so the copy it is given drops exactly those keys
 * (listed in the test output). Host ports and settings come from the environment, through the
 * file's own `${TAPSTACK_...}` substitutions.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Wallet } from 'ethers';
import type { Socket } from 'socket.io-client';
import { parse } from 'yaml';
import { cleanProcessEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { REPO, acquireLock, buildImage, healthOf, inspect, newPrefix, podman, podmanOk, prepareMachine, ps, removeRun, secondsSince, sh, startHelpers, sweepLeftovers, type Helpers, type PsRow } from './podman.js';
import { balanceOf, signIn, tapAndConfirm, type Edge } from './player.js';
import { balanceAndState, dbState as readDbState } from './db-state.js';

const prefix = newPrefix();
const project = `${prefix}c`;
let release: (() => void) | undefined;
let helpers: Helpers | undefined;
let identity = '';
let composeFile = '';
let env: NodeJS.ProcessEnv = {};
let edge: Edge;
let wallet: Wallet;
let token = '';
const sockets: Socket[] = [];
let services: Record<string, any> = {};

const container = (service: string) => `${project}_${service}_1`;

async function compose(args: string[], timeoutMs = 600_000) {
  return sh('docker-compose', ['-p', project, '--project-directory', REPO, '-f', composeFile, ...args], { env, timeoutMs });
}

async function composeOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await compose(args, timeoutMs);
  if (r.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${r.code}:\n${(r.stdout + r.stderr).slice(-6000)}`);
  return r.stdout + r.stderr;
}

const longRunning = () => Object.keys(services).filter((s) => s !== 'setup');

async function logsOf(service: string): Promise<string> {
  const r = await podman(['logs', '--tail', '80', container(service)]);
  return `--- ${service} ---\n${r.stdout}${r.stderr}`;
}

/**
 * `up -d` while watching: when each container started and when its health check first passed
 * (from the check log podman keeps), to show the dependency order and the start-to-healthy time.
 */
async function upAndWatch(): Promise<{ seconds: number; startedAt: Record<string, number>; healthyAt: Record<string, number>; finishedAt: Record<string, number> }> {
  const t0 = Date.now();
  const startedAt: Record<string, number> = {};
  const healthyAt: Record<string, number> = {};
  const finishedAt: Record<string, number> = {};
  let upDone = false;
  const up = compose(['up', '-d']).finally(() => (upDone = true));
  const watch = (async () => {
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      const rows = await ps(`${project}_`).catch(() => new Map<string, PsRow>());
      for (const s of Object.keys(services)) {
        if (healthyAt[s] !== undefined || (s === 'setup' && finishedAt[s] !== undefined)) continue;
        const row = rows.get(container(s));
        // Inspected only when something changed: start (once), exit, healthy.
        const changed = row && ((row.state === 'running' && startedAt[s] === undefined) || row.state === 'exited' || row.health === 'healthy');
        if (!changed) continue;
        const info = await inspect(container(s)).catch(() => undefined);
        if (!info?.State) continue;
        const started = Date.parse(info.State.StartedAt);
        if (Number.isFinite(started) && started > t0 - 1000) startedAt[s] = started;
        if (s === 'setup') {
          if (info.State.Status === 'exited') finishedAt[s] = Date.parse(info.State.FinishedAt);
          continue;
        }
        if (healthOf(info) === 'healthy') {
          const log: { End?: string; ExitCode?: number }[] = info.State.Health?.Log ?? info.State.Healthcheck?.Log ?? [];
          const firstOk = log.filter((l) => l.ExitCode === 0 && l.End && Date.parse(l.End) >= (startedAt[s] ?? 0)).map((l) => Date.parse(l.End as string));
          healthyAt[s] = firstOk.length ? Math.min(...firstOk) : Date.now();
        }
      }
      if (longRunning().every((s) => healthyAt[s] !== undefined)) return;
      if (upDone && Date.now() - t0 > 5000 && (await up).code !== 0) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const r = await up;
  await watch;
  if (r.code !== 0 || !longRunning().every((s) => healthyAt[s] !== undefined)) {
    const missing = longRunning().filter((s) => healthyAt[s] === undefined);
    const logs = (await Promise.all(['setup', ...missing].map(logsOf))).join('\n');
    throw new Error(`compose up: exit ${r.code}; not healthy: ${missing.join(', ') || 'none'}\n${(r.stdout + r.stderr).slice(-3000)}\n${logs.slice(-12000)}`);
  }
  return { seconds: (Math.max(...Object.values(healthyAt)) - t0) / 1000, startedAt, healthyAt, finishedAt };
}

async function allHealthy(timeoutMs: number): Promise<void> {
  await waitFor(async () => {
    const rows = await ps(`${project}_`);
    return longRunning().every((s) => rows.get(container(s))?.health === 'healthy');
  }, 'every service healthy', timeoutMs, 1000).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${(await Promise.all(longRunning().map(logsOf))).join('\n').slice(-12000)}`);
  });
}

async function execIn(service: string, args: string[], opts: string[] = []) {
  return podman(['exec', ...opts, container(service), ...args], 300_000);
}

const inApi = (args: string[]) => execIn('api', args);
const dbState = (ledgerRows?: number) => readDbState(inApi, ledgerRows);

/** depends_on.<svc>.restart: docker-compose 1.29 cannot read it; the only keys the copy drops. */
function deriveComposeFile(): { file: string; dropped: string[] } {
  const doc = parse(fs.readFileSync(path.join(REPO, 'docker-compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, any> };
  const dropped: string[] = [];
  for (const [name, s] of Object.entries(doc.services)) {
    for (const [dep, cond] of Object.entries((s.depends_on ?? {}) as Record<string, any>)) {
      if (cond && typeof cond === 'object' && 'restart' in cond) {
        delete cond.restart;
        dropped.push(`services.${name}.depends_on.${dep}.restart`);
      }
    }
  }
  // Anchors were resolved by the merge. Written as JSON (which is YAML): every string stays quoted,
  // so docker-compose's YAML 1.1 parser cannot read `restart: "no"` as the boolean false.
  const file = path.join('/var/tmp/tapstack-images-test', `${project}.compose.yaml`);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  return { file, dropped };
}

test.before(async (t) => {
  release = await acquireLock();
  const swept = await sweepLeftovers();
  if (swept.length) t.log(`removed leftovers of an earlier run: ${swept.join(', ')}`);
  const machine = await prepareMachine();
  t.log(`machine ready in ${machine.seconds.toFixed(1)} s`);
  const seconds = await buildImage('Dockerfile', 'localhost/tapstack/app:0.1.0');
  t.log(`build Dockerfile: ${seconds.toFixed(1)} s`);
  // The name compose asks the Docker API for (a short name resolves to docker.io).
  await podmanOk(['tag', 'localhost/tapstack/app:0.1.0', 'docker.io/tapstack/app:0.1.0']);
  helpers = await startHelpers(prefix);
  const derived = deriveComposeFile();
  composeFile = derived.file;
  t.log(`derived compose file drops only: ${derived.dropped.join(', ')}`);
  // The services `docker compose up` starts: those of an opt-in profile (monitoring, logs) stay down.
  const all = (parse(fs.readFileSync(composeFile, 'utf8')) as { services: Record<string, any> }).services;
  services = Object.fromEntries(Object.entries(all).filter(([, s]) => !s.profiles));
  const [http, https] = [await freePort(), await freePort()];
  env = {
    ...cleanProcessEnv(),
    DOCKER_HOST: `unix://${helpers.socket}`,
    COMPOSE_HTTP_TIMEOUT: '600',
    TAPSTACK_PUBLISH_HTTP: `127.0.0.1:${http}`,
    TAPSTACK_PUBLISH_HTTPS: `127.0.0.1:${https}`,
    TAPSTACK_PUBLIC_ORIGIN: `https://localhost:${https}`,
    TAPSTACK_DEMO_MODE: 'true',
    TAPSTACK_LOG_LEVEL: 'warn',
  };
  edge = { port: https, ca: '' };
  const keygen = await podman(['run', '--rm', '--network=none', '--entrypoint', 'tapstack', 'localhost/tapstack/app:0.1.0', 'backup', 'keygen', '--json']);
  if (keygen.code !== 0) throw new Error(`backup keygen: ${keygen.stderr}`);
  const pair = JSON.parse(keygen.stdout) as { recipient: string; identity: string };
  env.TAPSTACK_BACKUP_RECIPIENTS = pair.recipient;
  identity = pair.identity;
});

test.after.always(async () => {
  for (const s of sockets) s.disconnect();
  if (composeFile) await compose(['down', '-v', '-t', '30'], 180_000).catch(() => undefined);
  await removeRun(prefix).catch(() => undefined);
  await helpers?.stop();
  if (composeFile) fs.rmSync(composeFile, { force: true });
  release?.();
});

test.serial('up: setup completes, then every service becomes healthy in dependency order', async (t) => {
  const up = await upAndWatch();
  t.log(`compose start-to-healthy (${longRunning().length} services): ${up.seconds.toFixed(1)} s`);
  t.log(`healthy after up (s): ${longRunning().map((s) => `${s} ${((up.healthyAt[s]! - (up.startedAt.setup ?? 0)) / 1000).toFixed(1)}`).join(', ')}`);
  t.is((await inspect(container('setup'))).State.ExitCode, 0, 'setup exited 0');
  for (const [name, s] of Object.entries(services)) {
    for (const [dep, cond] of Object.entries((s.depends_on ?? {}) as Record<string, { condition: string }>)) {
      const started = up.startedAt[name];
      t.truthy(started, `${name} started`);
      if (cond.condition === 'service_completed_successfully') t.true(started! >= up.finishedAt[dep]!, `${name} started after ${dep} completed`);
      if (cond.condition === 'service_healthy') t.true(started! >= up.healthyAt[dep]!, `${name} started ${started! - up.healthyAt[dep]!} ms after ${dep} was healthy`);
    }
  }
  const cert = await execIn('nginx', ['cat', '/tls/cert.pem']);
  t.is(cert.code, 0, cert.stderr);
  edge.ca = cert.stdout;
});

test.serial('a player signs in, taps and gets bet:confirmed over wss:// through the compose nginx', async (t) => {
  wallet = new Wallet(Wallet.createRandom().privateKey);
  token = await signIn(edge, wallet);
  t.is(await balanceOf(edge, token), 100_000);
  const tapped = await tapAndConfirm(edge, token, 'images-compose-0001', 500, sockets);
  t.is(tapped.confirmedState, 'open');
  t.is(tapped.balanceAfter, 99_500);
});

test.serial('the resource limits of the file are applied to the containers', async (t) => {
  for (const [name, s] of Object.entries(services)) {
    const limits = s.deploy?.resources?.limits;
    if (!limits) continue;
    const host = (await inspect(container(name))).HostConfig;
    const cpus = host.NanoCpus ? host.NanoCpus / 1e9 : host.CpuQuota / (host.CpuPeriod || 100_000);
    t.is(cpus, Number(limits.cpus), `${name}: cpus`);
    const mem = /^(\d+)([MG])$/.exec(String(limits.memory));
    t.is(host.Memory, Number(mem![1]) * (mem![2] === 'G' ? 1024 ** 3 : 1024 ** 2), `${name}: memory`);
  }
});

test.serial('setup writes the secrets, database and TLS key private to their user (no 644 under compose)', async (t) => {
  // (The volume marker is 0644 on purpose everywhere: an install id, no secret.)
  const r = await execIn('api', ['sh', '-c', 'stat -c "%a %u %n" /data/tapstack.db /data/secrets/redis-password /data/secrets']);
  t.is(r.code, 0, r.stderr);
  for (const line of r.stdout.trim().split('\n')) {
    const [mode, uid, file] = line.split(' ');
    t.is(uid, '10001', file);
    t.is(Number.parseInt(mode!, 8) & 0o077, 0, `${file} is ${mode}`);
  }
  const key = await execIn('nginx', ['stat', '-c', '%a', '/tls/key.pem']);
  t.is(key.stdout.trim(), '600');
});

test.serial('restart redis: the apps recover and nothing is lost', async (t) => {
  const { balance: before, state: db } = await balanceAndState(inApi, () => balanceOf(edge, token));
  const t0 = Date.now();
  await composeOk(['restart', 'redis']);
  await allHealthy(180_000);
  t.log(`redis restart to all healthy: ${secondsSince(t0)} s`);
  // The first bet may be settled meanwhile (its window ended): then by exactly its new ledger row.
  const me = wallet.address.toLowerCase();
  const mid = await balanceAndState(inApi, () => balanceOf(edge, token), db.rows.ledger);
  t.is(mid.state.ledger, db.ledger, 'every ledger row as it was');
  t.is(mid.balance, before + (mid.state.movedAfter[me] ?? 0), 'the session (in Redis) and the balance survived');
  const tapped = await tapAndConfirm(edge, token, 'images-compose-0002', 500, sockets);
  // The tap's stake row (−500), and a settlement if one came in between.
  const moved = (await dbState(mid.state.rows.ledger)).movedAfter[me] ?? 0;
  t.is(tapped.balanceAfter, mid.balance + moved, 'taps work again');
  const after = await dbState();
  for (const [table, n] of Object.entries(db.rows)) t.true((after.rows[table] ?? -1) >= n, `${table}: ${after.rows[table]} rows, was ${n}`);
});

test.serial('app containers stop promptly on SIGTERM while Redis is unavailable', async (t) => {
  await composeOk(['stop', 'redis']);
  try {
    // Restarted with Redis gone: the process waits for it (the case where SIGTERM was ignored).
    await podmanOk(['restart', '-t', '0', container('quoter')]);
    await new Promise((r) => setTimeout(r, 3000)); // let it reach its Redis wait
    const t0 = Date.now();
    await podmanOk(['stop', '-t', '15', container('quoter')], 60_000);
    const seconds = secondsSince(t0);
    t.log(`quoter stop with Redis down: ${seconds} s`);
    const info = await inspect(container('quoter'));
    t.not(info.State.ExitCode, 137, 'not killed at the stop timeout');
    t.true(seconds < 10, `stopped in ${seconds} s`);
  } finally {
    await composeOk(['up', '-d']);
  }
  await allHealthy(180_000);
});

test.serial('the backup service takes a scheduled backup holding SQLite and Redis', async (t) => {
  const config = { targets: [{ type: 'local', name: 'local', path: '/data/backup-target', incrementalSchedule: '* * * * *', schedule: '0 3 * * *' }], drill: '' };
  const w = await execIn('backup', ['sh', '-c', `mkdir -p /data/backup-target && cat > /data/backup.json <<'EOF'\n${JSON.stringify(config)}\nEOF`]);
  t.is(w.code, 0, w.stderr);
  await composeOk(['restart', 'backup']);
  const list = await waitFor(async () => {
    const r = await execIn('backup', ['tapstack', 'backup', 'list', '--json']);
    if (r.code !== 0) return undefined;
    const out = JSON.parse(r.stdout) as { backups: any[] }[];
    return out[0]?.backups?.length ? out[0].backups : undefined;
  }, 'a backup by the scheduler', 150_000, 2000).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await logsOf('backup')}`);
  });
  t.log(`scheduled backup: ${JSON.stringify(list[0]).slice(0, 600)}`);
  // Format 2 seals the file list (only the identity opens it): list with it, as an operator would.
  const key = await execIn('backup', ['sh', '-c', `umask 077 && cat > /tmp/backup-identity.key <<'EOF'\n${identity}\nEOF`]);
  t.is(key.code, 0, key.stderr);
  const opened = await execIn('backup', ['tapstack', 'backup', 'list', '--json', '--identity', '/tmp/backup-identity.key']);
  await execIn('backup', ['rm', '-f', '/tmp/backup-identity.key']);
  t.is(opened.code, 0, opened.stderr);
  t.regex(opened.stdout, /redis/i, 'the backup holds the Redis RDB');
});

test.serial('down then up keeps every balance, ledger row and the TLS key', async (t) => {
  const { balance: before, state: db } = await balanceAndState(inApi, () => balanceOf(edge, token));
  const key = (await execIn('nginx', ['sha256sum', '/tls/key.pem'])).stdout.split(' ')[0];
  const t0 = Date.now();
  const down = await composeOk(['down', '-t', '30']);
  t.log(`compose down: ${secondsSince(t0)} s`);
  t.notRegex(down, /Killing|timed out/i);
  const up = await upAndWatch();
  t.log(`compose second start-to-healthy: ${up.seconds.toFixed(1)} s`);
  // A bet whose window ended while the appliance was down is settled at start (a feed gap voids it
  // and refunds the stake): the balance moves by exactly the rows added after the ones from before.
  const after = await dbState(db.rows.ledger);
  t.is(after.ledger, db.ledger, 'every ledger row as it was (settlements may follow)');
  const expected = before + (after.movedAfter[wallet.address.toLowerCase()] ?? 0);
  t.log(`ledger rows added while down and at start: ${(after.rows.ledger ?? 0) - (db.rows.ledger ?? 0)}; the player's balance ${before} → ${expected}`);
  t.is(await balanceOf(edge, token), expected);
  t.is(await balanceOf(edge, await signIn(edge, wallet)), expected);
  for (const [table, n] of Object.entries(db.rows)) t.true((after.rows[table] ?? -1) >= n, `${table}: ${after.rows[table]} rows, was ${n}`);
  t.is((await execIn('nginx', ['sha256sum', '/tls/key.pem'])).stdout.split(' ')[0], key, 'the same TLS key');
});
