/**
 * The API's request listener, built from its dependencies (main.ts or a test wires them): the
 * direct tap handler for the common POST /api/bets (tap-handler.ts), Koa for everything else.
 */
import type { RequestListener } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import type { ApiDeps } from './deps.js';
import { withSessionCache } from '../shared/sessions.js';
import { createAuthLimiter } from './auth/rate-limit.js';
import { createNonceStore } from './auth/nonces.js';
import { createAccessLog, errorsAndLogging } from './middleware/errors.js';
import { jsonBody } from './middleware/body.js';
import { authRoutes } from './routes/auth.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { marketRoutes } from './routes/market.routes.js';
import { betRoutes } from './routes/bets.routes.js';
import { createQuoteCache } from './quote-cache.js';
import { createReserver } from '../shared/betting/reserve.js';
import { meRoutes } from './routes/me.routes.js';
import { createAdmission, type Admission } from './admission.js';
import { betTicksRoutes } from './routes/bet-ticks.routes.js';
import { clientRoutes } from './routes/client.routes.js';
import { createPlacement } from './placement.js';
import { createTapHandler } from './tap-handler.js';

/** `admission`: wired by main.ts (stopped at shutdown); a test may leave it out (an unref'd sampler). */
export function createApiListener(input: ApiDeps & { admission?: Admission }): RequestListener {
  // Every tap authenticates: keep sessions read from Redis for a second (logout evicts at once).
  const deps: ApiDeps = { ...input, sessions: withSessionCache(input.sessions, { ttlMs: 1000, max: 50_000 }) };
  const app = new Koa();
  app.proxy = deps.config.http.trustProxy;
  // Only the nearest proxy (nginx) is trusted: it appends the real peer to X-Forwarded-For.
  app.maxIpsCount = 1;
  app.silent = true;

  const nonces = createNonceStore(deps.redis, deps.config.siwe.nonceTtlSeconds);
  const limiter = createAuthLimiter(deps.redis, deps.config.authRate);
  const { breaker, betting } = deps.config;
  const reserver = createReserver(deps.redis, {
    staleAfterMs: breaker.staleAfterMs,
    recoveryMs: breaker.recoveryMs,
    ratePerSecond: betting.ratePerSecond,
    cellCap: betting.cellLiabilityCap,
    columnCap: betting.columnLiabilityCap,
    idempotencyTtlSeconds: betting.idempotencyTtlSeconds,
  });
  const quotes = createQuoteCache(deps.redis);
  const admission = input.admission ?? createAdmission(deps);

  const placement = createPlacement({ ...deps, reserver, quotes, admission });
  const access = createAccessLog(deps);

  app.use(errorsAndLogging(access));
  app.use(jsonBody());
  // One router: each route module's router is copied into it, so a request is matched once
  // (seven routers each matching every request cost more than the bet route's own work).
  const router = new Router();
  for (const r of [healthRoutes(deps), authRoutes({ ...deps, nonces, limiter, reserver }), meRoutes({ ...deps, reserver }), marketRoutes(deps), betRoutes({ ...deps, reserver, placement }), betTicksRoutes(deps), clientRoutes(deps)]) {
    router.use(r.routes());
  }
  app.use(router.routes());
  // Not `throw: true`: the thrown error would lose the Allow header a 405 must carry;
  // errorsAndLogging turns the bodiless 405/501 into the error envelope instead.
  app.use(router.allowedMethods());

  const koa = app.callback();
  const tap = createTapHandler({ ...deps, placement, access });
  const log = deps.log.child({ module: 'http' });
  return (req, res) => {
    if (!tap.takes(req)) {
      void koa(req, res);
      return;
    }
    tap.serve(req, res).catch((err: unknown) => {
      // The handler answers every error it meets; only the access log after the answer can fail.
      log.error({ err }, 'tap handler failed');
      res.destroy();
    });
  };
}
