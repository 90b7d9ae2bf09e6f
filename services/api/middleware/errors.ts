/**
 * Outermost middleware: request id, access log, latency metric, and the one place errors become
 * `{error: {code, message}}`. 5xx bodies never carry internals; the log has them.
 */
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { AppError } from '../../shared/errors.js';
import { isRedisUnavailable, redisRefusal } from '../../shared/redis.js';
import type { ApiDeps } from '../deps.js';

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
export function errorsAndLogging(deps: Pick<ApiDeps, 'log' | 'metrics'>): Koa.Middleware {
  const log = deps.log.child({ module: 'http' });
  let successes = 0;
  return async (ctx, next) => {
    const started = performance.now();
    const requestId = randomUUID();
    let scoped: typeof log | undefined;
    const requestLog = () => (scoped ??= log.child({ requestId }));
    Object.defineProperty(ctx.state, 'log', { get: requestLog, configurable: true });
    ctx.set('X-Request-Id', requestId);
    let failure: { err: unknown; code: string } | undefined;
    try {
      await next();
      // Nothing answered (Koa's default 404), or a router answered 405/501 with just an Allow header.
      if (ctx.body === undefined && ctx.status >= 400) throw unanswered(ctx);
    } catch (err) {
      const e = toAppError(err);
      ctx.status = e.status;
      ctx.body = { error: { code: e.code, message: e.expose ? e.message : 'internal error', ...(e.expose && e.details ? { details: e.details } : {}) } };
      const retry = e.details?.retryAfterSeconds;
      if (typeof retry === 'number') ctx.set('Retry-After', String(retry));
      failure = { err, code: e.code };
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      deps.metrics.httpRequests.observe({ method: ctx.method, route: String(route), status: String(ctx.status) }, seconds);
      const ms = Math.round(seconds * 1000);
      // The bet a tap placed (or was refused for), when the route knows it: in every line about it.
      const bet = typeof ctx.state.betId === 'string' ? { betId: ctx.state.betId as string } : {};
      if (failure && ctx.status >= 500) {
        requestLog().error({ method: ctx.method, path: ctx.path, status: ctx.status, ms, ip: ctx.ip, code: failure.code, err: failure.err, ...bet }, 'request failed');
      } else if (failure || ctx.status >= 400) {
        requestLog().info({ method: ctx.method, path: ctx.path, status: ctx.status, ms, ip: ctx.ip, code: failure?.code, ...bet }, 'request refused');
      } else if ((successes = (successes + 1) % ACCESS_LOG_SAMPLE) === 0 || ms >= SLOW_MS) {
        const why = successes === 0 ? { sampled: ACCESS_LOG_SAMPLE } : { slow: true };
        if (log.isLevelEnabled('info')) requestLog().info({ method: ctx.method, path: ctx.path, status: ctx.status, ms, ip: ctx.ip, ...why, ...bet }, 'request');
      } else if (log.isLevelEnabled('debug')) {
        requestLog().debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms, ip: ctx.ip, ...bet }, 'request');
      }
    }
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
