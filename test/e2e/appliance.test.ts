/**
 * The appliance as a user meets it: the native AIO runtime (scripts/run-native.sh → the shared
 * entrypoint → tapstack setup → supervisord with redis, nginx, every process and the health
 * listener) in a temp dir on free loopback ports, used through nginx over TLS.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { Wallet } from 'ethers';
import { io as connect, type Socket } from 'socket.io-client';
import { cleanProcessEnv, tempDir } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { buildMessage } from '../helpers/wallet.js';

const run = promisify(execFile);
const HOME = process.cwd();

let root = '';
let env: Record<string, string> = {};
let appliance: ChildProcess | undefined;
let logFile = '';
const output = () => (logFile ? fs.readFileSync(logFile, 'utf8') : '');
let origin = '';
let ca = '';
const ports: Record<string, number> = {};
const sockets: Socket[] = [];

test.before(async () => {
  root = tempDir('tapstack-e2e-');
  for (const name of ['http', 'https', 'api', 'realtime', 'redis', 'ingest', 'quoter', 'writer', 'resolver', 'scheduler', 'backup', 'archiver', 'health']) ports[name] = await freePort();
  origin = `https://localhost:${ports.https}`;
  env = {
    ...cleanProcessEnv(),
    TAPSTACK_DATA_DIR: path.join(root, 'data'),
    TAPSTACK_RUN_DIR: path.join(root, 'run'),
    TAPSTACK_NGINX_HTTP_PORT: String(ports.http),
    TAPSTACK_NGINX_HTTPS_PORT: String(ports.https),
    TAPSTACK_PUBLIC_ORIGIN: origin,
    TAPSTACK_HTTP_PORT: String(ports.api),
    TAPSTACK_REALTIME_PORT: String(ports.realtime),
    TAPSTACK_API_UPSTREAM: `127.0.0.1:${ports.api}`,
    TAPSTACK_REALTIME_UPSTREAM: `127.0.0.1:${ports.realtime}`,
    TAPSTACK_REDIS_URL: `redis://127.0.0.1:${ports.redis}/0`,
    TAPSTACK_INGEST_PORT: String(ports.ingest),
    TAPSTACK_QUOTER_PORT: String(ports.quoter),
    TAPSTACK_WRITER_PORT: String(ports.writer),
    TAPSTACK_RESOLVER_PORT: String(ports.resolver),
    TAPSTACK_SCHEDULER_PORT: String(ports.scheduler),
    TAPSTACK_BACKUP_PORT: String(ports.backup),
    TAPSTACK_ARCHIVE_PORT: String(ports.archiver),
    TAPSTACK_HEALTH_METRICS_PORT: String(ports.health),
    TAPSTACK_DEMO_MODE: 'true',
    TAPSTACK_SYNTHETIC_TICK_MS: '100',
    TAPSTACK_BREAKER_RECOVERY_SECONDS: '2',
    TAPSTACK_GRID_COLUMN_SECONDS: '5',
    TAPSTACK_GRID_LOCK_SECONDS: '2',
    TAPSTACK_LOG_LEVEL: 'warn',
  };
  // supervisord's programs log to /dev/fd/1, which Linux cannot open on a socket (Node's 'pipe'
  // stdio): give it a file, as a terminal or Docker's log pipe would be.
  logFile = path.join(root, 'appliance.log');
  const fd = fs.openSync(logFile, 'a');
  appliance = spawn(path.join(HOME, 'scripts', 'run-native.sh'), [], { env, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  await waitFor(async () => (await direct(ports.api as number, '/readyz')).status === 200, 'the API behind supervisord', 45_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}\n--- appliance output ---\n${output().slice(-4000)}`);
  });
  ca = fs.readFileSync(path.join(root, 'data', 'tls', 'cert.pem'), 'utf8');
});

test.after.always(async () => {
  for (const s of sockets) s.disconnect();
  if (appliance?.pid && appliance.exitCode === null) {
    // SIGTERM to supervisord: it stops every program (nginx by QUIT) and exits.
    process.kill(appliance.pid, 'SIGTERM');
    await new Promise((r) => appliance?.once('exit', r));
  }
});

function direct(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** HTTPS through nginx, verifying the appliance's own certificate for `localhost`. */
function call(method: string, p: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      { host: 'localhost', port: ports.https, path: p, method, ca, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...opts.headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let body: any = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function supervisorctl(...args: string[]): Promise<string> {
  const r = await run('supervisorctl', ['-c', path.join(HOME, 'supervisord.conf'), ...args], { env: { ...env, TAPSTACK_HOME: HOME } }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return r.stdout;
}

async function signIn(): Promise<{ address: string; token: string }> {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const nonce = await call('POST', '/api/auth/nonce', { body: {} });
  const message = buildMessage(wallet, { domain: nonce.body.domain, uri: nonce.body.uri, chainId: 1, nonce: nonce.body.nonce, issuedAt: new Date() });
  const r = await call('POST', '/api/auth/verify', { body: { message, signature: await wallet.signMessage(message) }, headers: { origin } });
  if (r.status !== 200) throw new Error(`sign-in: ${r.status} ${JSON.stringify(r.body)}`);
  return { address: wallet.address, token: r.body.token };
}

test.serial('plain HTTP redirects to HTTPS; HTTPS answers carry HSTS and the security headers', async (t) => {
  const redirect = await new Promise<http.IncomingMessage>((resolve) => http.get({ host: '127.0.0.1', port: ports.http, path: '/api/grid?x=1' }, resolve));
  t.is(redirect.statusCode, 301);
  t.is(redirect.headers.location, `${origin}/api/grid?x=1`);
  const home = await call('GET', '/');
  t.is(home.status, 200);
  for (const r of [home, await call('GET', '/api/grid'), await call('GET', '/nope')]) {
    t.regex(String(r.headers['strict-transport-security']), /max-age=31536000/);
    t.truthy(r.headers['content-security-policy']);
    t.is(r.headers['x-content-type-options'], 'nosniff');
  }
});

test.serial('a player signs in, reads the grid, taps, and is confirmed over wss:// through nginx', async (t) => {
  const { token } = await signIn();
  const auth = { authorization: `Bearer ${token}` };
  const me = await call('GET', '/api/me', { headers: auth });
  t.is(me.body.balance, 100_000);
  const socket = connect(origin, { transports: ['websocket'], ca, auth: { token } });
  sockets.push(socket);
  const confirmations: any[] = [];
  socket.on('bet:confirmed', (b) => confirmations.push(b));
  await waitFor(() => socket.connected, 'wss connected through nginx');

  const { quote, cell } = await waitFor(async () => {
    const g = await call('GET', '/api/grid');
    if (g.status !== 200 || g.body.quote.halted) return undefined;
    const c = g.body.quote.cells.find((x: any) => !x.disabled && x.startMs - Date.now() > 3000);
    return c && { quote: g.body.quote, cell: c };
  }, 'an open grid', 40_000, 250);
  const r = await call('POST', '/api/bets', { body: { quoteId: quote.id, row: cell.row, col: cell.col, stake: 500 }, headers: { ...auth, 'idempotency-key': 'e2e-tap-000001' } });
  t.is(r.status, 202, JSON.stringify(r.body));
  const confirmed = await waitFor(() => confirmations.find((b) => b.id === r.body.bet.id), 'bet:confirmed over wss');
  t.is(confirmed.state, 'open');
});

test.serial('sign-in bursts are answered 429 by nginx', async (t) => {
  const results = await Promise.all(Array.from({ length: 40 }, () => call('POST', '/api/auth/nonce', { body: {} })));
  t.true(results.some((r) => r.status === 429));
  t.true(results.some((r) => r.status === 200));
});

test.serial('sslscan: TLS 1.2 and 1.3 only, no CBC suites', async (t) => {
  const { stdout } = await run('sslscan', ['--no-colour', `127.0.0.1:${ports.https}`]);
  t.regex(stdout, /TLSv1\.2\s+enabled/);
  t.regex(stdout, /TLSv1\.3\s+enabled/);
  t.regex(stdout, /TLSv1\.0\s+disabled/);
  t.regex(stdout, /TLSv1\.1\s+disabled/);
  t.notRegex(stdout.split('Supported Server Cipher(s)')[1] ?? '', /CBC|SHA1?\s*$|-SHA\b/m);
});

test.serial('kill -9 of any app process: supervisord restarts it and it is ready again', async (t) => {
  for (const program of ['api', 'writer', 'ingest', 'quoter', 'resolver', 'realtime', 'scheduler']) {
    const pid = Number((await supervisorctl('pid', program)).trim());
    t.true(pid > 0, `${program} pid`);
    process.kill(pid, 'SIGKILL');
    const port = ports[program === 'api' ? 'api' : program] as number;
    await waitFor(async () => {
      const now = Number((await supervisorctl('pid', program)).trim());
      return now > 0 && now !== pid && (await direct(port, '/readyz')).status === 200;
    }, `${program} restarted and ready`, 40_000, 250);
  }
  const status = await supervisorctl('status');
  t.notRegex(status, /FATAL|BACKOFF|EXITED/);
});

test.serial('a frozen process (SIGSTOP) is restarted by the health listener', async (t) => {
  const pid = Number((await supervisorctl('pid', 'quoter')).trim());
  // The listener probes a program's liveness once it has seen it ready (run/health.json says so).
  await waitFor(() => {
    const h = JSON.parse(fs.readFileSync(path.join(root, 'run', 'health.json'), 'utf8')).programs.quoter;
    return h.pid === pid && h.readyAfterSeconds !== undefined;
  }, 'the health listener to see the quoter ready', 60_000, 250);
  process.kill(pid, 'SIGSTOP');
  const restarted = await waitFor(async () => {
    const now = Number((await supervisorctl('pid', 'quoter')).trim());
    return now > 0 && now !== pid && (await direct(ports.quoter as number, '/readyz')).status === 200 && now;
  }, 'the frozen quoter replaced', 60_000, 500);
  t.not(restarted, pid);
  t.regex(output(), /program unhealthy: restarting it/);
});

test.serial('an ordinary stop: every program and Redis end cleanly, the health listener logs no error', async (t) => {
  // Open websockets hold nginx's graceful quit until its stop timeout: a user's browser tabs would
  // too, but that is nginx's own matter (worker_shutdown_timeout), not what this test is about.
  for (const s of sockets) s.disconnect();
  const pid = appliance?.pid as number;
  const exited = new Promise<number | null>((r) => appliance?.once('exit', (code) => r(code)));
  process.kill(pid, 'SIGTERM');
  t.is(await exited, 0);
  const log = output();
  // supervisord's words when a stop outlasts stopwaitsecs (the kill -9 test above is another matter).
  t.notRegex(log, /killing '[a-z]+' \(\d+\) with SIGKILL/);
  t.regex(log, /stopped: redis \(exit status 0\)/);
  const listenerProblems = log.split('\n').filter((l) => l.includes('"service":"health-listener"') && /"level":(50|60)/.test(l));
  t.deepEqual(listenerProblems, []);
});

test('the entrypoint refuses a missing or marker-less data directory with the documented messages', async (t) => {
  const base = tempDir('tapstack-refuse-');
  const refuse = async (dataDir: string) => {
    const r = await run(path.join(HOME, 'scripts', 'entrypoint.sh'), ['true'], { env: { ...cleanProcessEnv(), TAPSTACK_DATA_DIR: dataDir, TAPSTACK_RUN_DIR: path.join(base, 'run') } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    return r;
  };
  const missing = await refuse(path.join(base, 'no-such-dir'));
  t.is(missing.code, 10);
  t.regex(missing.stderr, /data-dir-missing/);
  const foreign = path.join(base, 'foreign');
  fs.mkdirSync(foreign);
  fs.writeFileSync(path.join(foreign, 'something.txt'), 'not ours');
  const unmarked = await refuse(foreign);
  t.is(unmarked.code, 14);
  t.regex(unmarked.stderr, /TAPSTACK_ALLOW_UNMARKED_DATA/);
});
