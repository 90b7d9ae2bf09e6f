/** Liveness, readiness and metrics. */
import Router from '@koa/router';
import { readBreaker } from '../../shared/market/breaker-store.js';
import { registerReadiness } from '../../shared/metrics.js';
import { checkReadiness } from '../../shared/readiness.js';
import type { ApiDeps } from '../deps.js';

export function healthRoutes(deps: ApiDeps): Router {
  const router = new Router();
  registerReadiness(deps.metrics.registry, () => checkReadiness({ ...deps, service: 'api' }));
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const r = await checkReadiness({ ...deps, service: 'api' });
    ctx.status = r.ok ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    // The breaker is information, not readiness: the API serves (and refuses taps) while it is open.
    const breaker = r.checks.redis?.ok ? await readBreaker(deps.redis, deps.now(), deps.config.breaker).catch(() => undefined) : undefined;
    ctx.body = { status: r.ok ? 'ready' : 'not-ready', checks: r.checks, details: { breaker: breaker ?? null } };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  return router;
}
