/**
 * The settlement view of one bet: the ticks of its window (plus a little context either side), the
 * price prevailing at the window start, and the observed high/low, so a player can see why a bet
 * won or lost. The observed range follows the resolver's rule (services/resolver/decide.ts): the
 * fresh price prevailing at the start plus every tick stamped inside [startMs, endMs]. The bet's
 * state stays the only verdict; these numbers let anyone check it.
 */
import Router from '@koa/router';
import { notFound } from '../../shared/errors.js';
import { channels } from '../../shared/redis-names.js';
import { getQuote } from '../../shared/market/quote-store.js';
import { createTickStore, type SettlementTick } from '../../shared/market/tick-store.js';
import { getBet } from '../../shared/repos/bets.repo.js';
import type { ApiDeps } from '../deps.js';
import { requireSession, type Authed } from '../middleware/session.js';

/** Context drawn either side of the window, ms. */
const CONTEXT_MS = 5_000;

export function betTicksRoutes(deps: ApiDeps): Router {
  const router = new Router({ prefix: '/api' });
  // Read-only use of the store (the channel matters only to append()).
  const ticks = createTickStore(deps.redis, { retentionMs: deps.config.tickRetentionMs, now: deps.now, channel: channels(deps.config.redis.prefix).ticks });
  const stale = deps.config.breaker.staleAfterMs;

  router.get('/bets/:id/ticks', requireSession(deps), async (ctx) => {
    const { session } = ctx.state.auth as Authed;
    const bet = getBet(deps.db, String(ctx.params.id));
    // Only committed bets have a window worth showing; another player's bet is "no such bet".
    if (!bet || bet.address !== session.address) throw notFound('bet-unknown', 'no such bet');
    const from = bet.startMs - Math.max(CONTEXT_MS, stale);
    const all = await ticks.range(from, bet.endMs + CONTEXT_MS);
    let prevailing: SettlementTick | undefined;
    const inside: SettlementTick[] = [];
    for (const t of all) {
      if (t.ts <= bet.startMs) prevailing = t;
      if (t.ts >= bet.startMs && t.ts <= bet.endMs) inside.push(t);
    }
    const observed = [...(prevailing && bet.startMs - prevailing.ts <= stale && prevailing.ts < bet.startMs ? [prevailing] : []), ...inside];
    const prices = observed.map((t) => t.priceCents);
    // The quote the bet was priced from, while Redis still keeps it (about a minute).
    const quote = await getQuote(deps.redis, bet.quoteId).catch(() => undefined);
    const cell = quote?.cells.find((c) => c.lowCents === bet.lowCents && c.startMs === bet.startMs);
    ctx.set('Cache-Control', bet.settledAt === null ? 'no-store' : 'private, max-age=60');
    ctx.body = {
      bet: { id: bet.id, state: bet.state, reason: bet.reason, lowCents: bet.lowCents, highCents: bet.highCents, startMs: bet.startMs, endMs: bet.endMs, stake: bet.stake, multiplierCents: bet.multiplierCents, payout: bet.payout, quoteId: bet.quoteId },
      staleAfterMs: stale,
      quote: quote && cell ? { id: quote.id, probability: cell.probability, spotCents: quote.spotCents, sigma: quote.sigma, edge: quote.edge, createdAt: quote.createdAt } : null,
      prevailing: prevailing ?? null,
      observed: { highCents: prices.length ? Math.max(...prices) : null, lowCents: prices.length ? Math.min(...prices) : null, count: prices.length },
      ticks: all.filter((t) => t.ts >= from),
    };
  });
  return router;
}
