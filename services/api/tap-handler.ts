/**
 * The tap, served without Koa: `POST /api/bets` with a JSON body is most of the API's traffic,
 * and Koa's per-request machinery (context objects, the middleware chain, the router, the body
 * parser's type checks) cost more CPU than the placement itself (issue 17's profiles). This
 * handler does what that chain does for this one request, with the same parts:
 * co-body with the parser's settings, the same authentication, placement (placement.ts), error
 * envelope, request id, access log and latency metric. Whatever it does not take — another
 * content type, a query string, any other route — goes to Koa unchanged, whose route for the
 * tap calls the same placement.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import coBody from 'co-body';
import type { ApiDeps } from './deps.js';
import { bodyParseError, JSON_BODY, validValue } from './middleware/body.js';
import { errorAnswer, type AccessLog, type Failure } from './middleware/errors.js';
import { authenticate } from './middleware/session.js';
import { PlaceBody, type Placement } from './placement.js';

/** The path this handler serves; also its route label in the latency metric, as @koa/router names it. */
const PATH = '/api/bets';

export interface TapHandler {
  /** Whether this handler serves the request (decided from the request line and headers only). */
  takes(req: IncomingMessage): boolean;
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createTapHandler(deps: Pick<ApiDeps, 'config' | 'sessions'> & { placement: Placement; access: AccessLog }): TapHandler {
  const { placement, access } = deps;
  const trustProxy = deps.config.http.trustProxy;

  /** As Koa's ctx.ip with app.proxy = trustProxy and maxIpsCount = 1 (app.ts). */
  const ipOf = (req: IncomingMessage): string => {
    const forwarded = trustProxy ? header(req, 'x-forwarded-for') : undefined;
    const last = forwarded?.split(/\s*,\s*/).at(-1);
    return last || req.socket.remoteAddress || '';
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    try {
      return await coBody.json(req as never, JSON_BODY);
    } catch (err) {
      throw bodyParseError(err);
    }
  };

  return {
    takes: (req) => req.method === 'POST' && req.url === PATH && isPlainJson(req.headers['content-type']),
    async serve(req, res) {
      const started = performance.now();
      const requestId = randomUUID();
      const requestLog = access.scoped(requestId);
      let betId: string | undefined;
      let failure: Failure | undefined;
      let status: number;
      let payload: unknown;
      const headers: Record<string, string> = { 'X-Request-Id': requestId };
      try {
        // The order of the Koa chain: the body is parsed before the session is checked.
        const body = await readBody(req);
        const { session } = await authenticate(deps, 'POST', { authorization: header(req, 'authorization'), cookie: header(req, 'cookie'), origin: header(req, 'origin') });
        const placed = await placement.place(session.address, header(req, 'idempotency-key'), () => validValue(body, PlaceBody), (id) => {
          betId = id;
        });
        betId = placed.betId;
        status = 202;
        if (placed.replayed) headers['Idempotent-Replayed'] = 'true';
        payload = placed.body;
      } catch (err) {
        const answer = errorAnswer(err);
        status = answer.status;
        payload = answer.body;
        if (answer.retryAfter !== undefined) headers['Retry-After'] = answer.retryAfter;
        failure = { err, code: answer.code };
      }
      const text = JSON.stringify(payload);
      if (!res.headersSent && !res.destroyed) {
        headers['Content-Type'] = 'application/json; charset=utf-8';
        headers['Content-Length'] = String(Buffer.byteLength(text));
        res.writeHead(status, headers);
        res.end(text);
      }
      access.record({ method: 'POST', path: PATH, route: PATH, status, started, ip: () => ipOf(req), failure, betId, requestLog });
    },
  };
}

/** An empty header counts as absent, as with Koa's ctx.get(...) || undefined. */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v.join(', ') : v;
  return s ? s : undefined;
}

/** `application/json`, with parameters or none: the type the web app and the clients send. */
function isPlainJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase() === 'application/json';
}
