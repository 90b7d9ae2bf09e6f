/** Market data for players: the current grid quote and the breaker state. */
import Router from '@koa/router';
import { AppError } from '../../shared/errors.js';
import { readBreaker } from '../../shared/market/breaker-store.js';
import { currentQuote } from '../../shared/market/quote-store.js';
import type { ApiDeps } from '../deps.js';

export function marketRoutes(deps: ApiDeps): Router {
  const router = new Router({ prefix: '/api' });
  router.get('/grid', async (ctx) => {
    const quote = await currentQuote(deps.redis, deps.now());
    if (!quote) throw new AppError(503, 'market-unavailable', 'no current grid quote: the price feed or the quoter is starting or down', { retryAfterSeconds: 1 });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { serverTime: deps.now(), quote };
  });
  router.get('/market', async (ctx) => {
    const now = deps.now();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { serverTime: now, breaker: await readBreaker(deps.redis, now, deps.config.breaker) };
  });
  return router;
}
