/**
 * Public settings the browser app needs before anyone signs in: stake limits (the stake selector
 * stays within them), the currency, the allowed chains and whether demo mode is on (the app then
 * offers a labelled demo wallet). Nothing secret: every value is also visible in refusals.
 */
import Router from '@koa/router';
import type { ApiDeps } from '../deps.js';

export function clientRoutes(deps: ApiDeps): Router {
  const router = new Router({ prefix: '/api' });
  const { config } = deps;
  const body = Object.freeze({
    currency: config.currency,
    stake: { min: config.betting.stakeMin, max: config.betting.stakeMax },
    chainIds: config.siwe.chainIds,
    demoMode: config.demo.enabled,
    demoGrant: config.demo.grant,
    grid: config.grid,
  });
  router.get('/client', (ctx) => {
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = body;
  });
  return router;
}
