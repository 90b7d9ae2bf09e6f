/**
 * The native appliance for the web e2e (the runtime of test/e2e/appliance.test.ts as a
 * helper): scripts/run-native.sh → entrypoint → tapstack setup → supervisord with redis, nginx and
 * every process, in a temp dir on free loopback ports, used through nginx over TLS. `stop()`
 * SIGTERMs supervisord by PID (it stops every program) and waits for it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { applianceEnv, HOME, PORT_NAMES } from './appliance.js';
import { tempDir } from './env.js';
import { freePort, waitFor } from './ports.js';
import { track } from './reaper-client.js';

const run = promisify(execFile);

export interface Appliance {
  origin: string;
  ports: Record<(typeof PORT_NAMES)[number], number>;
  env: Record<string, string>;
  root: string;
  output(): string;
  supervisorctl(...args: string[]): Promise<string>;
  /** GET on a process's own port (probes), bypassing nginx. */
  direct(port: number, p: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startAppliance(extra: Record<string, string> = {}): Promise<Appliance> {
  const root = tempDir('tapstack-web-e2e-');
  const ports = {} as Appliance['ports'];
  for (const name of PORT_NAMES) ports[name] = await freePort();
  const origin = `https://localhost:${ports.https}`;
  const env: Record<string, string> = {
    ...applianceEnv(root, ports),
    TAPSTACK_LOG_LEVEL: 'warn',
    // A loaded 2-core CI machine can take well over 15 s to start a dozen Node processes: give
    // the health listener and the start-order waits room, so a slow start is not a restart loop.
    TAPSTACK_HEALTH_FAILURES: '12',
    TAPSTACK_START_TIMEOUT_SECONDS: '180',
    ...extra,
  };
  const logFile = path.join(root, 'appliance.log');
  const fd = fs.openSync(logFile, 'a');
  // supervisord's programs log to /dev/fd/1, which Linux cannot open on a socket: give it a file.
  const child: ChildProcess = spawn(path.join(HOME, 'scripts', 'run-native.sh'), [], { env, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  // Its own process group: the reaper stops it if this test process dies first.
  track(child.pid);
  const output = () => fs.readFileSync(logFile, 'utf8');
  const direct = (port: number, p: string) =>
    new Promise<number>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 3000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
    });
  const stop = async () => {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
  };
  try {
    await waitFor(async () => (await direct(ports.api, '/readyz')) === 200 && (await direct(ports.realtime, '/readyz')) === 200, 'the API and realtime behind supervisord', 150_000, 250);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- appliance output ---\n${output().slice(-4000)}`);
  }
  return {
    origin,
    ports,
    env,
    root,
    output,
    direct,
    stop,
    supervisorctl: async (...args: string[]) => {
      const r = await run('supervisorctl', ['-c', path.join(HOME, 'supervisord.conf'), ...args], { env: { ...env, TAPSTACK_HOME: HOME } }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
      return r.stdout;
    },
  };
}
