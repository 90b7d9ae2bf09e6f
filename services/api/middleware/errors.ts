/**
 * Outermost middleware: request id, access log, latency metric, and the one place errors become
 * `{error: {code, message}}`. 5xx bodies never carry internals; the log has them.
 */
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { AppError } from '../../shared/errors.js';
import { isRedisUnavailable, redisRefusal } from '../../shared/redis.js';
import type { ApiDeps } from '../deps.js';
import type { Logger } from '../../shared/logger.js';

/** One success in this many gets an access line at info (every one at debug); see below. */
export const ACCESS_LOG_SAMPLE = 100;
/** A success slower than this always gets its line. */
const SLOW_MS = 500;

/**
 * Access lines: every refusal (4xx) at info and every failure (5xx) at error, each with its
 * request id; successes are sampled (one in ACCESS_LOG_SAMPLE, and every slow one) because a
 * line per tap was a fifth of the API's CPU at the bench's rates. The request-scoped logger is
 * made only when a line is written (or a route asks for `ctx.state.log`).
 */
export function errorsAndLogging(access: AccessLog): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const requestId = randomUUID();
    const requestLog = access.scoped(requestId);
    Object.defineProperty(ctx.state, 'log', { get: requestLog, configurable: true });
    ctx.set('X-Request-Id', requestId);
    let failure: Failure | undefined;
    try {
      await next();
      // Nothing answered (Koa's default 404), or a router answered 405/501 with just an Allow header.
      if (ctx.body === undefined && ctx.status >= 400) throw unanswered(ctx);
    } catch (err) {
      const answer = errorAnswer(err);
      ctx.status = answer.status;
      ctx.body = answer.body;
      if (answer.retryAfter !== undefined) ctx.set('Retry-After', answer.retryAfter);
      failure = { err, code: answer.code };
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      // The bet a tap placed (or was refused for), when the route knows it: in every line about it.
      const betId = typeof ctx.state.betId === 'string' ? (ctx.state.betId as string) : undefined;
      access.record({ method: ctx.method, path: ctx.path, route: String(route), status: ctx.status, started, ip: () => ctx.ip, failure, betId, requestLog });
    }
  };
}

export interface Failure {
  err: unknown;
  code: string;
}

/** One answered request, as the access log and the latency metric see it. */
export interface AccessFacts {
  method: string;
  path: string;
  route: string;
  status: number;
  /** performance.now() when the request arrived. */
  started: number;
  /** The client's address (computed only for a line that is written). */
  ip: () => string;
  failure: Failure | undefined;
  betId: string | undefined;
  requestLog: () => Logger;
}

/**
 * The access log and the latency histogram, shared by the Koa middleware and the direct tap
 * handler (tap-handler.ts) so both write the same lines.
 */
export function createAccessLog(deps: Pick<ApiDeps, 'log' | 'metrics'>) {
  const log = deps.log.child({ module: 'http' });
  let successes = 0;
  return {
    /** A request-scoped logger, made on first use only (most requests never write a line). */
    scoped(requestId: string): () => Logger {
      let scoped: Logger | undefined;
      return () => (scoped ??= log.child({ requestId }));
    },
    record(f: AccessFacts): void {
      const seconds = (performance.now() - f.started) / 1000;
      deps.metrics.httpRequests.observe({ method: f.method, route: f.route, status: String(f.status) }, seconds);
      const ms = Math.round(seconds * 1000);
      const bet = f.betId !== undefined ? { betId: f.betId } : {};
      const { failure, status } = f;
      if (failure && status >= 500) {
        f.requestLog().error({ method: f.method, path: f.path, status, ms, ip: f.ip(), code: failure.code, err: failure.err, ...bet }, 'request failed');
      } else if (failure || status >= 400) {
        f.requestLog().info({ method: f.method, path: f.path, status, ms, ip: f.ip(), code: failure?.code, ...bet }, 'request refused');
      } else if ((successes = (successes + 1) % ACCESS_LOG_SAMPLE) === 0 || ms >= SLOW_MS) {
        const why = successes === 0 ? { sampled: ACCESS_LOG_SAMPLE } : { slow: true };
        if (log.isLevelEnabled('info')) f.requestLog().info({ method: f.method, path: f.path, status, ms, ip: f.ip(), ...why, ...bet }, 'request');
      } else if (log.isLevelEnabled('debug')) {
        f.requestLog().debug({ method: f.method, path: f.path, status, ms, ip: f.ip(), ...bet }, 'request');
      }
    },
  };
}

export type AccessLog = ReturnType<typeof createAccessLog>;

/** What a thrown error answers: its status, the `{error}` envelope, Retry-After, and its code. */
export function errorAnswer(err: unknown): { status: number; code: string; body: { error: Record<string, unknown> }; retryAfter: string | undefined } {
  const e = toAppError(err);
  const retry = e.details?.retryAfterSeconds;
  return {
    status: e.status,
    code: e.code,
    body: { error: { code: e.code, message: e.expose ? e.message : 'internal error', ...(e.expose && e.details ? { details: e.details } : {}) } },
    retryAfter: typeof retry === 'number' ? String(retry) : undefined,
  };
}

function unanswered(ctx: Koa.Context): AppError {
  if (ctx.status === 404) return new AppError(404, 'not-found', `no route for ${ctx.method} ${ctx.path}`);
  const allowed = ctx.response.get('Allow');
  const why = allowed ? `${ctx.method} is not allowed on ${ctx.path} (allowed: ${allowed})` : `${ctx.method} ${ctx.path} failed`;
  return new AppError(ctx.status, HTTP_CODES[ctx.status] ?? 'bad-request', why);
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isRedisUnavailable(err)) return new AppError(503, 'unavailable', 'temporarily unavailable; retry shortly', { retryAfterSeconds: 2 });
  const refused = redisRefusal(err);
  if (refused) return new AppError(503, refused.code, refused.message, { retryAfterSeconds: refused.retryAfterSeconds });
  const sqlite = (err as { code?: string }).code;
  if (sqlite === 'SQLITE_FULL' || sqlite === 'SQLITE_BUSY' || sqlite === 'SQLITE_IOERR' || sqlite?.startsWith('SQLITE_IOERR_')) {
    return new AppError(503, sqlite === 'SQLITE_FULL' ? 'disk-low' : 'unavailable', 'storage is busy or full: retry later', { retryAfterSeconds: 5 });
  }
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; type?: string };
  const status = e.status ?? e.statusCode;
  // Errors raised by Koa and the body parser (http-errors) carry a 4xx status.
  if (typeof status === 'number' && ((status >= 400 && status < 500) || status === 501)) {
    const code = HTTP_CODES[status] ?? (e.type === 'entity.parse.failed' ? 'invalid-json' : 'bad-request');
    return new AppError(status, code, e.expose && e.message ? e.message : 'bad request');
  }
  return new AppError(500, 'internal', 'internal error');
}

const HTTP_CODES: Record<number, string> = {
  405: 'method-not-allowed',
  413: 'body-too-large',
  415: 'unsupported-media-type',
  501: 'not-implemented',
};
