/**
 * One probe per component, shared by compose health checks, the supervisord health listener, the
 * AIO HEALTHCHECK and the start-order gate. Probes talk the component's protocol (HTTP /readyz,
 * Redis PING), never just "the port is open".
 */
import http from 'node:http';
import https from 'node:https';
import { Redis } from 'ioredis';
import type { Config } from '../services/shared/config.js';

export type Probe = { kind: 'http'; url: string } | { kind: 'redis' };

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** The programs of the AIO runtime (supervisord.conf) and how each proves it is healthy. */
export function probeFor(program: string, config: Config): Probe | undefined {
  const local = (port: number, path = '/readyz') => ({ kind: 'http' as const, url: `http://127.0.0.1:${port}${path}` });
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
    case 'nginx':
      return { kind: 'http', url: `https://127.0.0.1:${config.appliance.nginxHttpsPort}/healthz` };
    default:
      return undefined;
  }
}

export const PROGRAMS = ['redis', 'api', 'realtime', 'ingest', 'quoter', 'writer', 'resolver', 'scheduler', 'backup', 'nginx'] as const;

export function httpProbe(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const get = u.protocol === 'https:' ? https.get : http.get;
    // Loopback probe of our own (often self-signed) certificate: reachability, not identity.
    const req = get(u, { timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, detail: `HTTP ${res.statusCode}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: err.message }));
  });
}

export async function redisProbe(config: Config, timeoutMs: number): Promise<ProbeResult> {
  const redis = new Redis(config.redis.url, {
    password: config.redis.password || undefined,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pong = await redis.ping();
    return { ok: pong === 'PONG', detail: pong };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    redis.disconnect();
  }
}

export function runProbe(probe: Probe, config: Config, timeoutMs = 2000): Promise<ProbeResult> {
  return probe.kind === 'redis' ? redisProbe(config, timeoutMs) : httpProbe(probe.url, timeoutMs);
}
