/**
 * Bets: placement (202 once the stake is reserved and the bet queued, atomically), and the
 * player's view of their bets. The writer commits; the player hears `bet:confirmed` or
 * `bet:rejected` on their socket, and these routes show the same state.
 */
import Router from '@koa/router';
import { badRequest, notFound } from '../../shared/errors.js';
import { listBetsAcrossArchives } from '../../shared/archived-history.js';
import { pendingBet, publicBet } from '../../shared/betting/public-bet.js';
import type { ApiDeps } from '../deps.js';
import type { Reserver } from '../../shared/betting/reserve.js';
import { PlaceBody, type Placement } from '../placement.js';
import { validBody } from '../middleware/body.js';
import { requireSession, type Authed } from '../middleware/session.js';

/**
 * `placement` places (placement.ts); this route serves the taps the direct handler leaves to Koa
 * (tap-handler.ts: a body that is not JSON, a path with a query string...), so every tap gets the
 * same checks and answers.
 */
export function betRoutes(deps: ApiDeps & { reserver: Reserver; placement: Placement }): Router {
  const { config, placement } = deps;
  const router = new Router({ prefix: '/api' });
  const { findBet } = placement;

  router.post('/bets', requireSession(deps), async (ctx) => {
    const { session } = ctx.state.auth as Authed;
    const placed = await placement.place(session.address, ctx.get('Idempotency-Key') || undefined, () => validBody(ctx, PlaceBody), (id) => {
      // The request's log line names the bet it is about (middleware/errors.ts).
      ctx.state.betId = id;
    });
    ctx.state.betId = placed.betId;
    ctx.status = 202;
    if (placed.replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = placed.body;
  });

  router.get('/bets/:id', requireSession(deps), async (ctx) => {
    const { session } = ctx.state.auth as Authed;
    ctx.state.betId = String(ctx.params.id);
    const bet = await findBet(String(ctx.params.id), session.address);
    if (!bet) throw notFound('bet-unknown', 'no such bet');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { bet };
  });

  router.get('/me/bets', requireSession(deps), async (ctx) => {
    const { session } = ctx.state.auth as Authed;
    if (ctx.query.state !== undefined) {
      if (ctx.query.state !== 'pending') throw badRequest('invalid-query', 'state must be "pending" (queued bets); omit it for committed bets');
      // Accepted (202) but not committed yet: also the bets whose answer a client never got.
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { bets: (await deps.reserver.pendingBets(session.address, 500)).map(pendingBet) };
      return;
    }
    const limit = Math.min(200, Math.max(1, Number(ctx.query.limit ?? 50) || 50));
    const before = ctx.query.before === undefined ? undefined : Number(ctx.query.before);
    if (before !== undefined && !Number.isSafeInteger(before)) throw badRequest('invalid-query', 'before must be a time in ms');
    ctx.set('Cache-Control', 'no-store');
    // The primary file, then the week files archival keeps locally (older weeks: GET /api/me says
    // where the local history ends, `history.remoteBefore`).
    ctx.body = { bets: listBetsAcrossArchives(deps.db, config.archive.dir, session.address, { limit, ...(before !== undefined ? { before } : {}) }).map(publicBet) };
  });
  return router;
}
