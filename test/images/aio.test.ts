/**
 * The all-in-one image as a self-hoster runs it (DEPLOY.md "All-in-one image"): built from
 * Dockerfile.aio unmodified with `podman build --format docker` on stand-in base images, run on a
 * named volume with loopback ports, healthy through its own HEALTHCHECK, played through its nginx
 * over TLS, stopped, started again on the same volume; the admin CLI through `exec`; and the
 * volumes it must refuse (forgotten, read-only, full). test/images/podman.ts: how it drives podman.
 */
import test from 'ava';
import { Wallet } from 'ethers';
import type { Socket } from 'socket.io-client';
import { freePort, waitFor } from '../helpers/ports.js';
import { acquireLock, buildImage, inspect, newPrefix, podman, podmanOk, prepareMachine, removeRun, secondsSince, startHelpers, sweepLeftovers, waitHealthy, type Helpers } from './podman.js';
import { balanceOf, signIn, tapAndConfirm, type Edge } from './player.js';
import { dbState as readDbState } from './db-state.js';

const IMAGE = 'localhost/tapstack/aio:0.1.0';
const prefix = newPrefix();
const name = `${prefix}aio`;
const volume = `${prefix}aio-data`;
/** DEPLOY.md: run the AIO image with --stop-timeout 60 (the writer drains its batch). */
const STOP_TIMEOUT = 60;
let release: (() => void) | undefined;
let helpers: Helpers | undefined;
let edge: Edge;
const ports = { http: 0, https: 0 };
let wallet: Wallet;
let token = '';
const sockets: Socket[] = [];
const state: { balance?: number; rows?: Record<string, number>; ledger?: string; tlsKey?: string; betId?: string } = {};

/** The settings a trial run uses: its origin, the demo grant, a fast synthetic feed. */
const settings = (httpsPort: number) => [
  '-e', `TAPSTACK_PUBLIC_ORIGIN=https://localhost:${httpsPort}`,
  '-e', 'TAPSTACK_DEMO_MODE=true',
  '-e', 'TAPSTACK_SYNTHETIC_TICK_MS=100',
  '-e', 'TAPSTACK_LOG_LEVEL=warn',
  // Monitoring on (DEPLOY.md "Monitoring and alerting"): Debian's Prometheus and Alertmanager
  // supervised inside, covered by the HEALTHCHECK like every program.
  '-e', 'TAPSTACK_MONITORING=true',
];

async function runAio(httpPort: number, httpsPort: number): Promise<number> {
  const t0 = Date.now();
  await podmanOk(['run', '-d', '--name', name, '--stop-timeout', String(STOP_TIMEOUT), '-p', `127.0.0.1:${httpPort}:8000`, '-p', `127.0.0.1:${httpsPort}:8443`, '-v', `${volume}:/data`, ...settings(httpsPort), IMAGE]);
  return waitHealthy(name, t0, 180_000);
}

async function exec(...args: string[]) {
  return podman(['exec', name, ...args], 180_000);
}

const dbState = (ledgerRows?: number) => readDbState((args) => exec(...args), ledgerRows);

test.before(async (t) => {
  release = await acquireLock();
  const swept = await sweepLeftovers();
  if (swept.length) t.log(`removed leftovers of an earlier run: ${swept.join(', ')}`);
  const machine = await prepareMachine();
  t.log(`machine ready in ${machine.seconds.toFixed(1)} s: ${machine.output.trim().split('\n').join('; ')}`);
  const seconds = await buildImage('Dockerfile.aio', IMAGE);
  t.log(`build Dockerfile.aio: ${seconds.toFixed(1)} s`);
  helpers = await startHelpers(prefix);
});

test.after.always(async () => {
  for (const s of sockets) s.disconnect();
  await removeRun(prefix).catch(() => undefined);
  await helpers?.stop();
  release?.();
});

test.serial('starts on a named volume and becomes healthy through its own HEALTHCHECK', async (t) => {
  ports.http = await freePort();
  ports.https = await freePort();
  await podmanOk(['volume', 'create', volume]);
  const seconds = await runAio(ports.http, ports.https);
  t.log(`AIO start-to-healthy: ${seconds.toFixed(1)} s`);
  const info = await inspect(name);
  t.truthy(info.Config?.Healthcheck?.Test?.join(' ').includes('/app/dist/healthchecks/aio.js'), 'the image\'s HEALTHCHECK is the one that ran');
  t.is(info.Config.User, 'tapstack');
  const cert = await exec('cat', '/data/tls/cert.pem');
  t.is(cert.code, 0, cert.stderr);
  edge = { port: ports.https, ca: cert.stdout };
});

test.serial('with TAPSTACK_MONITORING=true, Prometheus and Alertmanager run inside, scrape every process, and the Watchdog fires', async (t) => {
  const status = await exec('supervisorctl', '-c', '/app/supervisord.conf', 'status');
  t.regex(status.stdout, /^prometheus\s+RUNNING/m);
  t.regex(status.stdout, /^alertmanager\s+RUNNING/m);
  const script = `
    const get = (u) => fetch(u).then((r) => r.json());
    (async () => {
      const t = await get('http://127.0.0.1:9090/api/v1/targets');
      const a = await get('http://127.0.0.1:9093/api/v2/alerts');
      console.log(JSON.stringify({ targets: t.data.activeTargets.map((x) => [x.labels.job, x.labels.service ?? '', x.health]), alerts: a.map((x) => x.labels.alertname) }));
    })();`;
  const seen = await waitFor(
    async () => {
      const r = await exec('node', '-e', script);
      if (r.code !== 0) return undefined;
      const v = JSON.parse(r.stdout) as { targets: [string, string, string][]; alerts: string[] };
      return v.targets.length >= 11 && v.targets.every((x) => x[2] === 'up') && v.alerts.includes('Watchdog') ? v : undefined;
    },
    'every target up and the Watchdog at Alertmanager inside the AIO container',
    120_000,
    2000,
  );
  t.true(seen.targets.some(([job, service]) => job === 'tapstack' && service === 'health-listener'));
  const tsdb = await exec('ls', '/data/prometheus');
  t.is(tsdb.code, 0, 'the TSDB lives on the data volume');
});

test.serial('a player signs in with a wallet signature, taps and gets bet:confirmed over wss:// through nginx', async (t) => {
  wallet = new Wallet(Wallet.createRandom().privateKey);
  token = await signIn(edge, wallet);
  const before = await balanceOf(edge, token);
  t.is(before, 100_000, 'the demo grant');
  const tapped = await tapAndConfirm(edge, token, 'images-aio-000001', 500, sockets);
  t.is(tapped.confirmedState, 'open');
  t.is(tapped.balanceAfter, before - 500);
  state.betId = tapped.betId;
});

test.serial('tapstack integrity check and tapstack backup create to a local target, through exec', async (t) => {
  const integrity = await exec('tapstack', 'integrity', 'check');
  t.is(integrity.code, 0, integrity.stdout + integrity.stderr);
  const mk = await exec('sh', '-c', 'mkdir -p /data/backup-target && printf %s \'{"targets":[{"type":"local","name":"local","path":"/data/backup-target"}]}\' > /data/backup-trial.json');
  t.is(mk.code, 0, mk.stderr);
  const keygen = await exec('tapstack', 'backup', 'keygen', '--json');
  t.is(keygen.code, 0, keygen.stderr);
  const { recipient } = JSON.parse(keygen.stdout) as { recipient: string };
  const r = await podman(['exec', '-e', `TAPSTACK_BACKUP_RECIPIENTS=${recipient}`, name, 'tapstack', 'backup', 'create', '--config', '/data/backup-trial.json', '--json'], 300_000);
  t.is(r.code, 0, r.stdout + r.stderr);
  const list = await exec('tapstack', 'backup', 'list', '--config', '/data/backup-trial.json', '--json');
  t.is(list.code, 0, list.stderr);
  t.log(`backup: ${r.stdout.trim().slice(0, 400)}`);
  t.regex(r.stdout, /redis\/dump\.rdb|"redis"/, 'the backup holds Redis as well');
  t.regex(list.stdout, /"id"/);
});

test.serial('stop drains within the stop timeout; a new container on the same volume keeps balances, ledger and TLS key', async (t) => {
  state.balance = await balanceOf(edge, token);
  const db = await dbState();
  state.rows = db.rows;
  state.ledger = db.ledger;
  state.tlsKey = (await exec('sha256sum', '/data/tls/key.pem')).stdout.split(' ')[0];
  t.truthy(state.tlsKey);

  const t0 = Date.now();
  await podmanOk(['stop', name], (STOP_TIMEOUT + 30) * 1000);
  const stopSeconds = secondsSince(t0);
  t.log(`AIO stop: ${stopSeconds} s (timeout ${STOP_TIMEOUT} s)`);
  const stopped = await inspect(name);
  t.is(stopped.State.ExitCode, 0, 'supervisord and every program ended by themselves (137 = killed at the timeout)');
  t.true(stopSeconds < STOP_TIMEOUT, 'within the stop timeout');
  const logs = await podman(['logs', name]);
  t.notRegex(logs.stdout + logs.stderr, /graceful shutdown timed out/, 'no process had to be forced out');

  await podmanOk(['rm', name]);
  const seconds = await runAio(ports.http, ports.https);
  t.log(`AIO second start-to-healthy (same volume): ${seconds.toFixed(1)} s`);
  t.is((await exec('sha256sum', '/data/tls/key.pem')).stdout.split(' ')[0], state.tlsKey, 'the same TLS key');
  const cert = await exec('cat', '/data/tls/cert.pem');
  t.is(cert.stdout, edge.ca, 'the same certificate');
  const bet = await waitFor(async () => {
    const r = await podman(['exec', name, 'node', '-e', `const D=require('/app/node_modules/better-sqlite3');const db=new D('/data/tapstack.db',{readonly:true});console.log(JSON.stringify(db.prepare("select count(*) as n, max(state) as state, coalesce(max(payout), 0) as payout from bets where id = ?").get(${JSON.stringify(state.betId)})))`]);
    return r.code === 0 && (JSON.parse(r.stdout) as { n: number; state: string | null; payout: number });
  }, 'the bet row', 10_000, 500);
  t.is(bet.n, 1, 'the confirmed bet is in the database');
  // Its window may have ended while the appliance was down: then it is settled (a feed gap voids
  // it and refunds the stake) and the balance moved by exactly its payout, as a new ledger row.
  t.log(`the bet after the restart: ${bet.state}, payout ${bet.payout}`);
  // The session lived in Redis (AOF in the volume): the token still works, and a fresh sign-in too.
  t.is(await balanceOf(edge, token), state.balance + bet.payout);
  t.is(await balanceOf(edge, await signIn(edge, wallet)), state.balance + bet.payout);
  const after = await dbState(state.rows.ledger);
  t.is(after.ledger, state.ledger, 'every ledger row as it was (settlements may follow)');
  for (const [table, n] of Object.entries(state.rows)) t.true((after.rows[table] ?? -1) >= n, `${table}: ${after.rows[table]} rows, was ${n}`);
});

// The refusals of DEPLOY.md: each run is the image's entrypoint (setup) with a command, so a
// refusal is the container's exit code and message.
async function oneOff(args: string[], command = ['true']) {
  return podman(['run', '--rm', '--name', `${prefix}oneoff-${Math.random().toString(16).slice(2, 8)}`, ...args, IMAGE, ...command], 120_000);
}

test.serial('a forgotten volume (an anonymous volume from VOLUME /data) is refused with how to fix it; the override runs', async (t) => {
  const r = await oneOff([]);
  t.is(r.code, 11, r.stderr);
  t.regex(r.stderr, /data-anonymous-volume/);
  t.regex(r.stderr, /-v tapstack-data:\/data/, 'says how to mount one');
  t.regex(r.stderr, /TAPSTACK_DATA_REQUIRE_MOUNT=false/, 'names the override');
  const overridden = await oneOff(['-e', 'TAPSTACK_DATA_REQUIRE_MOUNT=false']);
  t.is(overridden.code, 0, overridden.stderr);
});

test.serial('a read-only volume is refused (exit 12)', async (t) => {
  const ro = `${prefix}ro-data`;
  await podmanOk(['volume', 'create', ro]);
  const r = await oneOff(['-v', `${ro}:/data:ro`]);
  t.is(r.code, 12, r.stderr);
  t.regex(r.stderr, /data-not-writable/);
  t.regex(r.stderr, /EROFS/);
});

test.serial('a volume with less free space than TAPSTACK_DATA_MIN_FREE_MB is refused (exit 13)', async (t) => {
  // U=true: the tmpfs belongs to the image's user, as a prepared volume would (podman's option).
  const r = await oneOff(['--mount', 'type=tmpfs,destination=/data,tmpfs-size=64m,U=true']);
  t.is(r.code, 13, r.stderr);
  t.regex(r.stderr, /data-low-space/);
  t.regex(r.stderr, /TAPSTACK_DATA_MIN_FREE_MB requires 256 MB/);
});
