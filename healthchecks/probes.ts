/**
 * One probe per component, shared by compose health checks, the supervisord health listener, the
 * AIO HEALTHCHECK and the start-order gate. Probes talk the component's protocol (HTTP /readyz and
 * /healthz, Redis PING), never just "the port is open".
 *
 * Every probe answers three questions, because they call for different actions:
 * - `ok` (ready): the program does its whole job (readiness: /readyz, Redis PING → PONG);
 * - `serving`: dependents may start against it (Redis that answers but cannot persist still serves
 *   reads and refuses writes with a coded error, which the API turns into a 503);
 * - `live`: the process itself works; only a dead or wedged process is restarted, since restarting
 *   one whose dependency (a full disk, a Redis that cannot persist) is missing fixes nothing and,
 *   for Redis, would throw away what it holds in memory.
 */
import http from 'node:http';
import https from 'node:https';
import { Redis } from 'ioredis';
import type { Config } from '../services/shared/config.js';

export type Probe = { kind: 'http'; url: string; liveUrl: string } | { kind: 'redis' };

export interface ProbeResult {
  ok: boolean;
  serving: boolean;
  live: boolean;
  detail: string;
}

/** The programs of the AIO runtime (supervisord.conf) and how each proves it is healthy. */
export function probeFor(program: string, config: Config): Probe | undefined {
  const local = (port: number) => ({ kind: 'http' as const, url: `http://127.0.0.1:${port}/readyz`, liveUrl: `http://127.0.0.1:${port}/healthz` });
  switch (program) {
    case 'redis':
      return { kind: 'redis' };
    case 'api':
      return local(config.http.port);
    case 'realtime':
      return local(config.realtime.port);
    case 'ingest':
      return local(config.workers.ingestPort);
    case 'quoter':
      return local(config.workers.quoterPort);
    case 'writer':
      return local(config.writer.port);
    case 'resolver':
      return local(config.resolver.port);
    case 'scheduler':
      return local(config.scheduler.port);
    case 'backup':
      return local(config.backup.port);
    case 'archiver':
      return local(config.archive.port);
    case 'nginx': {
      // nginx answers /healthz itself: one URL is both its readiness and its liveness.
      const url = `https://127.0.0.1:${config.appliance.nginxHttpsPort}/healthz`;
      return { kind: 'http', url, liveUrl: url };
    }
    // Optional (TAPSTACK_MONITORING): present in supervisord only when setup enabled them.
    case 'prometheus':
    case 'alertmanager': {
      const m = config.monitoring;
      const base = `http://${m.host}:${program === 'prometheus' ? m.prometheusPort : m.alertmanagerPort}`;
      return { kind: 'http', url: `${base}/-/ready`, liveUrl: `${base}/-/healthy` };
    }
    default:
      return undefined;
  }
}

export const PROGRAMS = ['redis', 'api', 'realtime', 'ingest', 'quoter', 'writer', 'resolver', 'scheduler', 'backup', 'archiver', 'nginx'] as const;

export function httpProbe(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const get = u.protocol === 'https:' ? https.get : http.get;
    const done = (ok: boolean, live: boolean, detail: string) => resolve({ ok, serving: ok, live, detail });
    // Loopback probe of our own (often self-signed) certificate: reachability, not identity.
    const req = get(u, { timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      // Any HTTP answer proves the process is alive; only 200 proves it is ready.
      res.on('end', () => done(res.statusCode === 200, true, `HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => done(false, false, err.message));
  });
}

/**
 * Redis errors to PING that come from a live server: MISCONF (it cannot persist: Redis refuses
 * writes and even PING but keeps what it accepted in memory and retries the write every second),
 * LOADING (reading its files at start), BUSY (a long script), NOAUTH/WRONGPASS (misconfigured).
 */
const ALIVE_REPLIES: Record<string, { serving: boolean }> = {
  MISCONF: { serving: true },
  LOADING: { serving: false },
  BUSY: { serving: false },
  // A wrong password is a configuration problem a restart cannot fix.
  NOAUTH: { serving: false },
  WRONGPASS: { serving: false },
};

export async function redisProbe(config: Config, timeoutMs: number): Promise<ProbeResult> {
  const redis = new Redis(config.redis.url, {
    password: config.redis.password || undefined,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    // A server that is LOADING must answer our PING, not make ioredis wait for it.
    enableReadyCheck: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pong = await redis.ping();
    return { ok: pong === 'PONG', serving: pong === 'PONG', live: true, detail: pong };
  } catch (err) {
    const message = (err as Error).message;
    const alive = ALIVE_REPLIES[message.split(' ')[0] ?? ''];
    if (alive) return { ok: false, serving: alive.serving, live: true, detail: message };
    return { ok: false, serving: false, live: false, detail: message };
  } finally {
    redis.disconnect();
  }
}

/** Readiness, with `serving` and `live` as far as one request can tell. */
export function runProbe(probe: Probe, config: Config, timeoutMs = 2000): Promise<ProbeResult> {
  return probe.kind === 'redis' ? redisProbe(config, timeoutMs) : httpProbe(probe.url, timeoutMs);
}

/** Liveness only: the process answers at all (HTTP /healthz, any Redis reply from a live server). */
export function runLivenessProbe(probe: Probe, config: Config, timeoutMs = 2000): Promise<ProbeResult> {
  return probe.kind === 'redis' ? redisProbe(config, timeoutMs) : httpProbe(probe.liveUrl, timeoutMs);
}
