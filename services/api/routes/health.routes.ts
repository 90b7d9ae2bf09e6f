/** Liveness, readiness and metrics. */
import Router from '@koa/router';
import { checkReadiness } from '../../shared/readiness.js';
import type { ApiDeps } from '../deps.js';

export function healthRoutes(deps: ApiDeps): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const r = await checkReadiness({ ...deps, service: 'api' });
    ctx.status = r.ok ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: r.ok ? 'ready' : 'not-ready', checks: r.checks };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  return router;
}
