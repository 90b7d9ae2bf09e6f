/** Redis connections: every key under the configured prefix, reconnect forever with capped backoff. */
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export type { Redis };

export function createRedis(config: Config, log: Logger, name: string): Redis {
  const redis = new Redis(config.redis.url, {
    password: config.redis.password || undefined,
    keyPrefix: config.redis.prefix,
    connectionName: `tapstack-${name}`,
    // No auto-pipelining. It holds every command issued while its previous pipeline is in
    // flight until that whole pipeline is answered, so a tap's reservation lived across several
    // round trips: in the bench a quarter of what the API allocated survived each young-generation
    // GC (in an ioredis-only loop as well: 25 % against 0.7 % without), each scavenge took 5–6 ms
    // with V8's helper threads on both cores, and those pauses were most of the half-rate tap
    // tails. Without it the API's GC time fell 313 → 78 ms per 10 s and the accept p99 at half the
    // saturated rate 17 → 10.5 ms, at the same CPU per bet. Commands are still written without
    // waiting for earlier replies (pipelined on the wire), in the order they are issued.
    enableAutoPipelining: false,
    // Fail a command fast while Redis is away (callers answer 503) instead of queueing it for long.
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000) + Math.floor(Math.random() * 100),
  });
  redis.on('connect', () => coalesceWrites(redis.stream as Socket));
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ module: 'redis', err: err.message }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info({ module: 'redis' }, 'redis connection restored');
    down = false;
  });
  return redis;
}

/**
 * Commands issued in one turn of the event loop leave in one write: the first write of a turn
 * corks the socket and the check phase (setImmediate, after every I/O callback of the turn)
 * uncorks it. ioredis writes each command as it is issued — without auto-pipelining (above) one
 * send(2) per command, and on loopback TCP a send costs the sender as much as its delivery to
 * Redis — while the API issues the reservations of every tap that arrived in the same turn one
 * after another. Order is unchanged (one socket, one queue) and no command waits for a reply;
 * a command issued in the next turn goes out at the end of that turn.
 */
function coalesceWrites(socket: Socket): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}

/** True for errors that mean "Redis is not reachable right now" (answer 503, retry later). */
export function isRedisUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    e?.name === 'AbortError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'NR_CLOSED'].includes(e?.code ?? '') ||
    /Connection is closed|Stream isn't writeable/.test(e?.message ?? '')
  );
}

/**
 * Redis's own refusals (error replies that mean "not now", never "bad request"), as the coded
 * 503 a client can act on; undefined for anything else. Each means the command did not run.
 */
export function redisRefusal(err: unknown): { code: 'capacity' | 'unavailable'; message: string; retryAfterSeconds: number } | undefined {
  const m = (err as { message?: string } | undefined)?.message ?? '';
  if (/^OOM /.test(m)) return { code: 'capacity', message: 'the appliance is at capacity: retry in a moment', retryAfterSeconds: 2 };
  if (/^MISCONF /.test(m)) return { code: 'unavailable', message: 'storage cannot persist writes right now (disk full or failing): retry later', retryAfterSeconds: 5 };
  if (/^(READONLY|LOADING|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN) /.test(m)) return { code: 'unavailable', message: 'temporarily unavailable: retry shortly', retryAfterSeconds: 2 };
  return undefined;
}
