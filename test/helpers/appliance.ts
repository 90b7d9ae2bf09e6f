/**
 * The native AIO appliance for e2e tests (as in test/e2e/appliance.test.ts): scripts/run-native.sh
 * → entrypoint → tapstack setup → supervisord, in a temp dir on free loopback ports. With
 * `tmpfsMb`, its data directory is a tmpfs of that size mounted in a private mount namespace
 * (`unshare -m`), so nothing stays mounted whatever happens to the run: the test reaches the
 * files through /proc/<pid>/root, and runs commands inside with nsenter.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { Wallet } from 'ethers';
import { cleanProcessEnv, tempDir } from './env.js';
import { freePort, waitFor } from './ports.js';
import { track } from './reaper-client.js';
import { buildMessage } from './wallet.js';

const run = promisify(execFile);
export const HOME = process.cwd();
export const PORT_NAMES = ['http', 'https', 'api', 'realtime', 'redis', 'ingest', 'quoter', 'writer', 'resolver', 'scheduler', 'backup', 'archiver', 'health', 'prometheus', 'alertmanager'] as const;

export interface Appliance {
  root: string;
  env: Record<string, string>;
  ports: Record<(typeof PORT_NAMES)[number], number>;
  dataDir: string;
  /** A path inside the data directory as this process can reach it (through the namespace). */
  dataPath(...parts: string[]): string;
  output(): string;
  /** Run a command where the appliance's files are (inside its mount namespace). */
  exec(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  supervisorctl(...args: string[]): Promise<string>;
  /** Program name → supervisord state. */
  states(): Promise<Record<string, string>>;
  /** What the health listener last wrote (run/health.json). */
  health(): { programs: Record<string, { state: string; pid: number; readyAfterSeconds?: number; failures: number; detail?: string }> } | undefined;
  stop(): Promise<void>;
  child: ChildProcess;
}

export function direct(port: number, p: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path: p, method, timeout: 10_000, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let parsed: any = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(data);
  });
}

/**
 * The environment of a native appliance in `root` on `ports`: its directories, nginx in front of
 * the API and realtime, and every process's own port (what scripts/run-native.sh is given).
 */
export function applianceEnv(root: string, ports: Appliance['ports']): Record<string, string> {
  return {
    ...cleanProcessEnv(),
    TAPSTACK_DATA_DIR: path.join(root, 'data'),
    TAPSTACK_RUN_DIR: path.join(root, 'run'),
    TAPSTACK_NGINX_HTTP_PORT: String(ports.http),
    TAPSTACK_NGINX_HTTPS_PORT: String(ports.https),
    TAPSTACK_PUBLIC_ORIGIN: `https://localhost:${ports.https}`,
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
    TAPSTACK_PROMETHEUS_PORT: String(ports.prometheus),
    TAPSTACK_ALERTMANAGER_PORT: String(ports.alertmanager),
  };
}

export async function startAppliance(opts: { extraEnv?: Record<string, string>; tmpfsMb?: number; readyTimeoutMs?: number } = {}): Promise<Appliance> {
  const root = tempDir('tapstack-e2e-');
  const ports = {} as Appliance['ports'];
  for (const name of PORT_NAMES) ports[name] = await freePort();
  const dataDir = path.join(root, 'data');
  const env: Record<string, string> = {
    ...applianceEnv(root, ports),
    TAPSTACK_DEMO_MODE: 'true',
    TAPSTACK_LOG_LEVEL: 'warn',
    ...opts.extraEnv,
  };
  // supervisord's programs log to /dev/fd/1, which Linux cannot open on a socket: give it a file.
  const logFile = path.join(root, 'appliance.log');
  const fd = fs.openSync(logFile, 'a');
  const native = path.join(HOME, 'scripts', 'run-native.sh');
  const [cmd, args] = opts.tmpfsMb
    ? [
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          // The data directory must exist for the mount; run-native.sh then finds it empty, as a fresh volume.
          `mkdir -p "$TAPSTACK_DATA_DIR" && mount -t tmpfs -o size=${opts.tmpfsMb}m,mode=0700 tapstack-test "$TAPSTACK_DATA_DIR" && exec "$0"`,
          native,
        ],
      ]
    : [native, []];
  // Its own session and process group (detached): stopped as a whole, and by the reaper if need be.
  const child = spawn(cmd as string, args as string[], { env, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  track(child.pid);
  const pid = child.pid as number;
  const output = () => fs.readFileSync(logFile, 'utf8');
  const inNs = (p: string) => (opts.tmpfsMb ? `/proc/${pid}/root${p}` : p);
  const supervisorctl = async (...a: string[]) => {
    const r = await run('supervisorctl', ['-c', path.join(HOME, 'supervisord.conf'), ...a], { env: { ...env, TAPSTACK_HOME: HOME } }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return r.stdout;
  };
  const app: Appliance = {
    root,
    env,
    ports,
    dataDir,
    child,
    dataPath: (...parts) => inNs(path.join(dataDir, ...parts)),
    output,
    exec: async (c, a) => {
      const [file, argv] = opts.tmpfsMb ? ['nsenter', ['-t', String(pid), '-m', '--', c, ...a]] : [c, a];
      return run(file as string, argv as string[], { env: { ...env, TAPSTACK_HOME: HOME }, maxBuffer: 16 << 20 }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
      );
    },
    supervisorctl,
    states: async () => {
      const out: Record<string, string> = {};
      for (const line of (await supervisorctl('status')).split('\n')) {
        const m = /^(\S+)\s+(\S+)/.exec(line);
        if (m) out[m[1] as string] = m[2] as string;
      }
      return out;
    },
    health: () => {
      try {
        return JSON.parse(fs.readFileSync(path.join(root, 'run', 'health.json'), 'utf8'));
      } catch {
        return undefined;
      }
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      // SIGTERM to supervisord: it stops every program (Redis gracefully) and exits.
      process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
  await waitFor(async () => (await direct(ports.api, '/readyz')).status === 200, 'the API behind supervisord', opts.readyTimeoutMs ?? 90_000, 250).catch(async (err: Error) => {
    const text = output();
    await app.stop();
    throw new Error(`${err.message}\n--- appliance output ---\n${text.slice(-4000)}`);
  });
  return app;
}

/** Every program RUNNING and ready (its own probe), as the image's HEALTHCHECK sees it. */
export async function applianceHealthy(app: Appliance): Promise<boolean> {
  return (await healthcheck(app)).ok;
}

async function healthcheck(app: Appliance): Promise<{ ok: boolean; detail: string }> {
  // Inside the appliance's mount namespace: the Redis password file is on its data volume.
  const r = await app.exec(process.execPath, [path.join(HOME, 'dist', 'healthchecks', 'aio.js')]);
  return { ok: r.code === 0, detail: r.stderr };
}

/** A funded demo player signed in with a real wallet signature, straight at the API. */
export async function signInDirect(app: Appliance): Promise<{ address: string; auth: Record<string, string> }> {
  const origin = app.env.TAPSTACK_PUBLIC_ORIGIN as string;
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const nonce = await direct(app.ports.api, '/api/auth/nonce', 'POST', {}, { origin });
  if (nonce.status !== 200) throw new Error(`nonce: ${nonce.status} ${JSON.stringify(nonce.body)}`);
  const message = buildMessage(wallet, { domain: nonce.body.domain, uri: nonce.body.uri, chainId: 1, nonce: nonce.body.nonce, issuedAt: new Date() });
  const r = await direct(app.ports.api, '/api/auth/verify', 'POST', { message, signature: await wallet.signMessage(message) }, { origin });
  if (r.status !== 200) throw new Error(`sign-in: ${r.status} ${JSON.stringify(r.body)}`);
  return { address: wallet.address, auth: { authorization: `Bearer ${r.body.token}` } };
}

export async function waitReady(app: Appliance, what: string, timeoutMs: number): Promise<void> {
  await waitFor(() => applianceHealthy(app), what, timeoutMs, 1000).catch(async (err: Error) => {
    throw new Error(`${err.message}\nHEALTHCHECK: ${(await healthcheck(app)).detail}\nstatus: ${await app.supervisorctl('status')}\nhealth: ${JSON.stringify(app.health())}`);
  });
}
