/**
 * Placing a bet, without HTTP: the checks, the reservation (202 once the stake is reserved and the
 * bet queued, atomically) and the idempotent replay. Two callers share it: the Koa route
 * (routes/bets.routes.ts) and the direct handler for the common tap (tap-handler.ts). Refusals
 * are thrown as AppError; the caller renders them.
 */
import { Counter } from 'prom-client';
import { z } from 'zod';
import { decodeCommand, payoutOf, type BetCommand } from '../shared/betting/commands.js';
import { betKeys } from '../shared/redis-names.js';
import type { Reserver, ReserveResult } from '../shared/betting/reserve.js';
import { isRedisUnavailable, redisRefusal } from '../shared/redis.js';
import { AppError, badRequest, conflict, notFound, tooMany } from '../shared/errors.js';
import { randomHex } from '../shared/random-hex.js';
import { findArchivedBet } from '../shared/archived-history.js';
import { getBet } from '../shared/repos/bets.repo.js';
import { pendingBet, publicBet } from '../shared/betting/public-bet.js';
import type { Admission } from './admission.js';
import type { ApiDeps } from './deps.js';
import type { createQuoteCache } from './quote-cache.js';

export const PlaceBody = z.object({
  quoteId: z.string().regex(/^q\d{1,15}$/, 'a quote id like q123'),
  row: z.number().int().min(0).max(1000),
  col: z.number().int().min(0).max(1000),
  stake: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});
export type PlaceBody = z.output<typeof PlaceBody>;

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{8,64}$/;
const BALANCE_WAIT_MS = 750;

/** A sortable, unguessable id: time in base36 then 64 random bits. */
const newBetId = (now: number) => `b${now.toString(36)}${randomHex(8)}`;

export type PlacementDeps = ApiDeps & { reserver: Reserver; quotes: ReturnType<typeof createQuoteCache>; admission: Admission };

/** What a placement answers: always 202 (a refusal is thrown). `replayed`: the original bet of this Idempotency-Key. */
export interface Placed {
  betId: string;
  replayed: boolean;
  body: { bet: unknown; available?: number };
}

export interface Placement {
  /**
   * Place a bet for `address`. `idempotencyKey`: the header's value (undefined when absent), checked
   * first; `readBody` then yields the body validated against PlaceBody (or throws its refusal).
   * `onBetId` hears the bet's id as soon as it exists, so a refusal's log line can name it.
   */
  place(address: string, idempotencyKey: string | undefined, readBody: () => PlaceBody, onBetId?: (id: string) => void): Promise<Placed>;
  /** The bet as the player may see it: committed (SQLite) or still queued (Redis); never another's. */
  findBet(id: string, address: string): Promise<ReturnType<typeof publicBet> | ReturnType<typeof pendingBet> | undefined>;
}

export function createPlacement(deps: PlacementDeps): Placement {
  const { config } = deps;
  const placed = new Counter({ name: 'tapstack_bets_placed_total', help: 'Bet placements by outcome (accepted or the refusal code)', labelNames: ['outcome'], registers: [deps.metrics.registry] });
  const accepted = placed.labels('accepted');
  const replayedCount = placed.labels('replayed');

  const findBet: Placement['findBet'] = async (id, address) => {
    const row = getBet(deps.db, id);
    if (row) return row.address === address ? publicBet(row) : undefined;
    const raw = /^b[0-9a-z]+$/.test(id) ? await deps.redis.hget(betKeys.pendingBets(address), id) : null;
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
        const exists = await deps.redis.hexists(betKeys.pendingBets(bet.address), bet.id).catch(() => undefined);
        if (exists === 1 || getBet(deps.db, bet.id)) return { kind: 'ok', betId: bet.id, available: Number.NaN };
        if (exists === 0) throw new AppError(503, 'unavailable', 'temporarily unavailable; the bet was not placed: retry', { retryAfterSeconds: 1 });
      }
      throw new AppError(503, 'outcome-unknown', 'the bet may or may not have been placed: check GET /api/bets/<betId> before tapping again', { betId: bet.id, retryAfterSeconds: 2 });
    }
  };

  const replayOf = async (address: string, key: string) => {
    const betId = await deps.redis.get(betKeys.idempotency(address, key));
    return betId ? findBet(betId, address) : undefined;
  };

  const place = async (address: string, idempotencyKey: string | undefined, readBody: () => PlaceBody, onBetId?: (id: string) => void): Promise<Placed> => {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw badRequest('invalid-idempotency-key', 'Idempotency-Key must be 8-64 characters of letters, digits and . _ : -');
    }
    const body = readBody();
    const { stakeMin, stakeMax } = config.betting;
    if (body.stake < stakeMin || body.stake > stakeMax) {
      throw badRequest('stake-out-of-limits', `stake must be between ${stakeMin} and ${stakeMax} minor units`, { min: stakeMin, max: stakeMax });
    }
    const now = deps.now();
    const cached = await deps.quotes.get(body.quoteId);
    const cellKey = `${body.row}:${body.col}`;
    const quoteProblem = (): AppError | undefined => {
      if (!cached) return conflict('quote-unknown', 'unknown quote: fetch the current grid');
      if (now > cached.quote.expiresAt) return conflict('quote-expired', 'the quote expired: use the current grid', { expiresAt: cached.quote.expiresAt });
      const c = cached.cells.get(cellKey);
      if (c && c.startMs - now < config.grid.lockSeconds * 1000) return conflict('cell-locked', 'this window starts too soon to tap');
      return undefined;
    };
    const problem = quoteProblem();
    if (problem) {
      // A retry of a tap that was placed (its answer lost) may come after its quote expired or
      // its window locked: it must get the original answer, not a refusal.
      const original = idempotencyKey ? await replayOf(address, idempotencyKey) : undefined;
      if (original) {
        replayedCount.inc();
        return { betId: original.id, replayed: true, body: { bet: original } };
      }
      throw problem;
    }
    const { quote, cells } = cached as NonNullable<typeof cached>;
    if (quote.halted) throw new AppError(503, 'breaker-open', 'trading is halted: the price feed is stale', { retryAfterSeconds: 5 });
    const cell = cells.get(cellKey);
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
    onBetId?.(bet.id);
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
        accepted.inc();
        return { betId: bet.id, replayed: false, body: { bet: pendingBet(bet), ...(Number.isNaN(result.available) ? {} : { available: result.available }) } };
      case 'replay': {
        onBetId?.(result.betId);
        const original = await findBet(result.betId, address);
        if (!original) throw conflict('idempotency-key-reused', 'this Idempotency-Key belongs to a bet that no longer exists');
        replayedCount.inc();
        return { betId: result.betId, replayed: true, body: { bet: original } };
      }
      case 'refused':
        throw refusal(result.code, result.available, config.betting.ratePerSecond);
    }
  };

  return {
    async place(address, idempotencyKey, readBody, onBetId) {
      try {
        return await place(address, idempotencyKey, readBody, onBetId);
      } catch (err) {
        placed.inc({ outcome: err instanceof AppError ? err.code : 'internal' });
        throw err;
      }
    },
    findBet,
  };
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
