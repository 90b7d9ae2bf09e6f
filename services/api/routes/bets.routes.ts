/**
 * Bets: placement (202 once the stake is reserved and the bet queued, atomically), and the
 * player's view of their bets. The writer commits; the player hears `bet:confirmed` or
 * `bet:rejected` on their socket, and these routes show the same state.
 */
import Router from '@koa/router';
import { Counter } from 'prom-client';
import { z } from 'zod';
import { decodeCommand, payoutOf, type BetCommand } from '../../shared/betting/commands.js';
import { betKeys } from '../../shared/redis-names.js';
import type { Reserver, ReserveResult } from '../../shared/betting/reserve.js';
import { isRedisUnavailable, redisRefusal } from '../../shared/redis.js';
import { AppError, badRequest, conflict, notFound, tooMany } from '../../shared/errors.js';
import { randomHex } from '../../shared/random-hex.js';
import { findArchivedBet, listBetsAcrossArchives } from '../../shared/archived-history.js';
import { getBet } from '../../shared/repos/bets.repo.js';
import { pendingBet, publicBet } from '../../shared/betting/public-bet.js';
import type { Admission } from '../admission.js';
import type { ApiDeps } from '../deps.js';
import { validBody } from '../middleware/body.js';
import { requireSession, type Authed } from '../middleware/session.js';
import type { createQuoteCache } from '../quote-cache.js';

const PlaceBody = z.object({
  quoteId: z.string().regex(/^q\d{1,15}$/, 'a quote id like q123'),
  row: z.number().int().min(0).max(1000),
  col: z.number().int().min(0).max(1000),
  stake: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{8,64}$/;
const BALANCE_WAIT_MS = 750;

/** A sortable, unguessable id: time in base36 then 64 random bits. */
const newBetId = (now: number) => `b${now.toString(36)}${randomHex(8)}`;

export function betRoutes(deps: ApiDeps & { reserver: Reserver; quotes: ReturnType<typeof createQuoteCache>; admission: Admission }): Router {
  const { config } = deps;
  const router = new Router({ prefix: '/api' });
  const placed = new Counter({ name: 'tapstack_bets_placed_total', help: 'Bet placements by outcome (accepted or the refusal code)', labelNames: ['outcome'], registers: [deps.metrics.registry] });

  /** The bet as the player may see it: committed (SQLite) or still queued (Redis); never another's. */
  const findBet = async (id: string, address: string) => {
    const row = getBet(deps.db, id);
    if (row) return row.address === address ? publicBet(row) : undefined;
    const raw = /^b[0-9a-z]+$/.test(id) ? await deps.redis.get(betKeys.pendingBet(id)) : null;
    const cmd = raw ? decodeCommand(raw) : undefined;
    if (raw) return cmd?.t === 'bet' && cmd.address === address ? pendingBet(cmd) : undefined;
    // Committed between the two reads (the writer commits, then retires the pending record).
    const committed = getBet(deps.db, id);
    if (committed) return committed.address === address ? publicBet(committed) : undefined;
    // Archived (issue 14): a local week file has it, or only the archive target can.
    const archived = findArchivedBet(deps.db, config.archive.dir, id);
    if (archived === 'remote') throw notFound('bet-archived', 'this bet is in an archived week kept off this appliance: the operator can bring it back (tapstack archive fetch)');
    return archived && archived.address === address ? publicBet(archived) : undefined;
  };

  /**
   * Reserve, and if Redis went away mid-call, find out whether the script ran before answering
   * 5xx: a lost reply must not tell the player "failed" about a bet that was placed.
   */
  const reserveOrResolve = async (bet: BetCommand, now: number, idempotencyKey: string | undefined): Promise<ReserveResult> => {
    try {
      return await deps.reserver.reserve(bet, { now, idempotencyKey });
    } catch (err) {
      // Redis refused the script (memory cap, cannot persist, loading...): it did not run.
      const refused = redisRefusal(err);
      if (refused) throw new AppError(503, refused.code, `${refused.message}; the bet was not placed`, { retryAfterSeconds: refused.retryAfterSeconds });
      if (!isRedisUnavailable(err)) throw err;
      for (let attempt = 0; attempt < 4; attempt += 1) {
        await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
        const placed = await deps.redis.exists(betKeys.pendingBet(bet.id)).catch(() => undefined);
        if (placed === 1 || getBet(deps.db, bet.id)) return { kind: 'ok', betId: bet.id, available: Number.NaN };
        if (placed === 0) throw new AppError(503, 'unavailable', 'temporarily unavailable; the bet was not placed: retry', { retryAfterSeconds: 1 });
      }
      throw new AppError(503, 'outcome-unknown', 'the bet may or may not have been placed: check GET /api/bets/<betId> before tapping again', { betId: bet.id, retryAfterSeconds: 2 });
    }
  };

  const replayOf = async (address: string, key: string) => {
    const betId = await deps.redis.get(betKeys.idempotency(address, key));
    return betId ? findBet(betId, address) : undefined;
  };

  router.post('/bets', requireSession(deps), async (ctx) => {
    const { session } = ctx.state.auth as Authed;
    const address = session.address;
    try {
      const idempotencyKey = ctx.get('Idempotency-Key') || undefined;
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw badRequest('invalid-idempotency-key', 'Idempotency-Key must be 8-64 characters of letters, digits and . _ : -');
      }
      const body = validBody(ctx, PlaceBody);
      const { stakeMin, stakeMax } = config.betting;
      if (body.stake < stakeMin || body.stake > stakeMax) {
        throw badRequest('stake-out-of-limits', `stake must be between ${stakeMin} and ${stakeMax} minor units`, { min: stakeMin, max: stakeMax });
      }
      const now = deps.now();
      const cached = await deps.quotes.get(body.quoteId);
      const quoteProblem = (): AppError | undefined => {
        if (!cached) return conflict('quote-unknown', 'unknown quote: fetch the current grid');
        if (now > cached.quote.expiresAt) return conflict('quote-expired', 'the quote expired: use the current grid', { expiresAt: cached.quote.expiresAt });
        const c = cached.cells.get(`${body.row}:${body.col}`);
        if (c && c.startMs - now < config.grid.lockSeconds * 1000) return conflict('cell-locked', 'this window starts too soon to tap');
        return undefined;
      };
      const problem = quoteProblem();
      if (problem) {
        // A retry of a tap that was placed (its answer lost) may come after its quote expired or
        // its window locked: it must get the original answer, not a refusal.
        const original = idempotencyKey ? await replayOf(address, idempotencyKey) : undefined;
        if (original) {
          placed.inc({ outcome: 'replayed' });
          ctx.status = 202;
          ctx.set('Idempotent-Replayed', 'true');
          ctx.body = { bet: original };
          return;
        }
        throw problem;
      }
      const { quote } = cached as NonNullable<typeof cached>;
      if (quote.halted) throw new AppError(503, 'breaker-open', 'trading is halted: the price feed is stale', { retryAfterSeconds: 5 });
      const cell = (cached as NonNullable<typeof cached>).cells.get(`${body.row}:${body.col}`);
      if (!cell) throw badRequest('cell-unknown', `the quote has no cell at row ${body.row}, column ${body.col}`);
      if (cell.disabled) throw conflict('cell-disabled', `this cell is not offered (${cell.reason ?? 'disabled'})`);
      deps.admission.check();

      const bet: BetCommand = {
        t: 'bet',
        id: newBetId(now),
        address,
        quoteId: quote.id,
        lowCents: cell.lowCents,
        highCents: cell.highCents,
        startMs: cell.startMs,
        endMs: cell.endMs,
        stake: body.stake,
        multiplierCents: cell.multiplierCents,
        payout: payoutOf(body.stake, cell.multiplierCents),
        placedAt: now,
      };
      // The request's log line names the bet it is about (middleware/errors.ts).
      ctx.state.betId = bet.id;
      let result = await reserveOrResolve(bet, now, idempotencyKey);
      if (result.kind === 'refused' && result.code === 'balance-not-loaded') {
        // First tap since the cache was (re)built: the writer loads it from SQLite in order.
        await deps.reserver.requestLoad(address);
        const deadline = Date.now() + BALANCE_WAIT_MS;
        while (Date.now() < deadline && (await deps.reserver.available(address)) === undefined) await new Promise((r) => setTimeout(r, 10));
        result = await reserveOrResolve(bet, deps.now(), idempotencyKey);
      }
      switch (result.kind) {
        case 'ok':
          placed.inc({ outcome: 'accepted' });
          ctx.status = 202;
          ctx.body = { bet: pendingBet(bet), ...(Number.isNaN(result.available) ? {} : { available: result.available }) };
          return;
        case 'replay': {
          const original = await findBet(result.betId, address);
          ctx.state.betId = result.betId;
          if (!original) throw conflict('idempotency-key-reused', 'this Idempotency-Key belongs to a bet that no longer exists');
          placed.inc({ outcome: 'replayed' });
          ctx.status = 202;
          ctx.set('Idempotent-Replayed', 'true');
          ctx.body = { bet: original };
          return;
        }
        case 'refused':
          throw refusal(result.code, result.available, config.betting.ratePerSecond);
      }
    } catch (err) {
      placed.inc({ outcome: err instanceof AppError ? err.code : 'internal' });
      throw err;
    }
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

function refusal(code: string, available: number | undefined, rate: number): AppError {
  switch (code) {
    case 'rate-limited':
      return tooMany('rate-limited', `at most ${rate} taps per second`, 1);
    case 'breaker-open':
      return new AppError(503, 'breaker-open', 'trading is halted: the price feed is stale', { retryAfterSeconds: 5 });
    case 'insufficient-funds':
      return conflict('insufficient-funds', 'the available balance does not cover the stake', { available });
    case 'cell-liability-cap':
      return conflict('cell-liability-cap', 'this cell has reached its limit: try another cell');
    case 'column-liability-cap':
      return conflict('column-liability-cap', 'this time window has reached its limit: try another window');
    case 'balance-not-loaded':
      return new AppError(503, 'balance-loading', 'your balance is being loaded: retry in a moment', { retryAfterSeconds: 1 });
    default:
      return new AppError(500, 'internal', `unexpected reservation result ${code}`);
  }
}
