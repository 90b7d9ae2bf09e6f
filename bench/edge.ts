/**
 * The front door for the edge phases: the nginx configuration `tapstack setup` renders for the
 * appliance (TLS with a self-signed certificate, the HTTP/2 listener, proxy settings, access log),
 * in temp directories on free loopback ports with the bench's API and realtime as upstreams, run
 * natively by PID. One change for the bench only: the per-client-IP limits (limit_req rate and
 * burst, limit_conn) are lifted by rewriting their numbers, because the bench is one client IP
 * standing in for many players; the directives stay, so their cost is still measured.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { freePort, waitFor } from '../test/helpers/ports.js';
import { childPids, cleanEnv, start, type Child } from './procs.js';

/** What a lifted limit becomes: far above anything one machine can send (limit_conn must stay < 65536). */
export const LIFTED = { rate: '1000000r/s', burst: '1000000', conn: '60000' };

/**
 * Lift every per-IP limit of a rendered nginx.conf: `rate=<n>r/s` of each limit_req_zone,
 * `burst=<n>` of each limit_req, the number of each `limit_conn <zone> <n>`. Returns the new text
 * and one line per rewritten directive (for the report); throws if the config has none of a kind
 * (the template changed: the bench would silently measure a rate-limited edge).
 */
export function liftPerIpLimits(conf: string): { conf: string; changes: string[] } {
  const changes: string[] = [];
  const count = { rate: 0, burst: 0, conn: 0 };
  let out = conf.replace(/^(\s*limit_req_zone\s+\S+\s+zone=([\w-]+):\S+\s+)rate=(\d+r\/s);/gm, (_m, head: string, zone: string, rate: string) => {
    count.rate += 1;
    changes.push(`limit_req_zone ${zone}: rate=${rate} → rate=${LIFTED.rate}`);
    return `${head}rate=${LIFTED.rate};`;
  });
  out = out.replace(/^(\s*limit_req\s+zone=([\w-]+)\s+)burst=(\d+)/gm, (_m, head: string, zone: string, burst: string) => {
    count.burst += 1;
    changes.push(`limit_req zone=${zone}: burst=${burst} → burst=${LIFTED.burst}`);
    return `${head}burst=${LIFTED.burst}`;
  });
  out = out.replace(/^(\s*limit_conn\s+([\w-]+)\s+)(\d+);/gm, (_m, head: string, zone: string, n: string) => {
    count.conn += 1;
    changes.push(`limit_conn ${zone}: ${n} → ${LIFTED.conn}`);
    return `${head}${LIFTED.conn};`;
  });
  for (const [kind, n] of Object.entries(count)) if (n === 0) throw new Error(`the rendered nginx.conf has no per-IP ${kind} limit to lift: update bench/edge.ts`);
  return { conf: out, changes };
}

export interface Edge {
  child: Child;
  /** https://127.0.0.1:<port>: the API and the realtime service behind nginx. */
  url: string;
  /** The self-signed certificate setup generated (SAN IP:127.0.0.1): the clients' CA. */
  caFile: string;
  /** The rewrites of liftPerIpLimits, for the report. */
  lifted: string[];
  /** The master and its workers (CPU is charged to "nginx" as their sum). */
  pids(): number[];
}

/**
 * Render nginx.conf with `bin/tapstack setup` (its own temp data, TLS and run directories), lift
 * the per-IP limits, start nginx with `-p PREFIX -c FILE -e stderr` and wait for /healthz.
 */
export async function startEdge(root: string, upstreams: { api: string; realtime: string }): Promise<Edge> {
  // nginx's unprivileged workers must traverse to the ACME webroot and the web root.
  fs.chmodSync(root, 0o755);
  const dirs = { data: path.join(root, 'data'), tls: path.join(root, 'tls'), run: path.join(root, 'run') };
  fs.mkdirSync(dirs.data);
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const host = (u: string) => new URL(u).host;
  const env = {
    ...cleanEnv(),
    TAPSTACK_DATA_DIR: dirs.data,
    TAPSTACK_TLS_DIR: dirs.tls,
    TAPSTACK_RUN_DIR: dirs.run,
    TAPSTACK_NGINX_LISTEN: '127.0.0.1',
    TAPSTACK_NGINX_HTTP_PORT: String(httpPort),
    TAPSTACK_NGINX_HTTPS_PORT: String(httpsPort),
    TAPSTACK_API_UPSTREAM: host(upstreams.api),
    TAPSTACK_REALTIME_UPSTREAM: host(upstreams.realtime),
    // An IP origin: the generated certificate's SAN is IP:127.0.0.1, so clients verify it as is.
    TAPSTACK_PUBLIC_ORIGIN: `https://127.0.0.1:${httpsPort}`,
    TAPSTACK_LOG_LEVEL: 'warn',
  };
  const setup = spawnSync(path.join(process.cwd(), 'bin', 'tapstack'), ['setup', '--json'], { env, encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(`tapstack setup (for nginx.conf) failed (${setup.status}): ${setup.stderr || setup.stdout}`);
  const confFile = path.join(dirs.run, 'nginx.conf');
  const { conf, changes } = liftPerIpLimits(fs.readFileSync(confFile, 'utf8'));
  fs.writeFileSync(confFile, conf);

  const child = start('nginx', 'nginx', ['-p', path.join(dirs.run, 'nginx'), '-c', confFile, '-e', 'stderr'], cleanEnv(), { logFile: path.join(root, 'nginx.log'), group: true });
  const url = `https://127.0.0.1:${httpsPort}`;
  const caFile = path.join(dirs.tls, 'cert.pem');
  const ca = fs.readFileSync(caFile);
  const exited = child.exited.then((code) => {
    throw new Error(`nginx exited (${code}):\n${child.output()}`);
  });
  const up = waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const req = https.get(`${url}/healthz`, { ca, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
      }),
    `nginx at ${url}`,
    15_000,
  );
  await Promise.race([up, exited]);
  exited.catch(() => undefined);
  return { child, url, caFile, lifted: changes, pids: () => [child.pid, ...childPids(child.pid)] };
}
