/**
 * What each queue command does to the book, inside the writer's batch transaction (writer.ts):
 * the SQLite statements of a bet, a settlement or a movement, and what the writer does after the
 * commit, collected in an Outcome — the cache effects, the player events, the movements' answers,
 * the balance loads and the metric increments, each derived from the committed row and the entry
 * that committed it (the rule: writer.ts).
 */
import type { Db } from '../shared/db/database.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { payoutOf, playerEventId, type BetCommand, type MoveCommand, type MoveResult, type PlayerEvent, type SettleCommand, type WriterCommand } from '../shared/betting/commands.js';
import { movementEffect, reservationEffect, settlementEffect, type Effect } from '../shared/betting/bookkeeping.js';
import { publicBet, type PublicBet } from '../shared/betting/public-bet.js';
import { getBet, insertBet, settleBet, type BetRow } from '../shared/repos/bets.repo.js';
import { chainCursor, postMovement, type ChainCursor } from '../shared/repos/ledger.repo.js';
import { ensureUser, findUser } from '../shared/repos/users.repo.js';

export interface Outcome {
  effects: Effect[];
  events: PlayerEvent<PublicBet>[];
  results: { id: string; result: MoveResult }[];
  loads: string[];
  /** The ledger head, carried through the batch's transaction. */
  chain: ChainCursor;
  /** Metric increments, added once the batch is committed (a rolled-back batch counts nothing). */
  bets: Map<string, number>;
  money: Map<string, number>;
}

/** An empty outcome for one batch; its chain cursor reads the head at the first movement, inside the transaction. */
export const newOutcome = (db: Db): Outcome => ({ effects: [], events: [], results: [], loads: [], chain: chainCursor(db), bets: new Map(), money: new Map() });

const count = (m: Map<string, number>, key: string, n: number) => m.set(key, (m.get(key) ?? 0) + n);

export function createBook(db: Db, log: Logger) {
  const event = (row: BetRow, name: PlayerEvent['event']): PlayerEvent<PublicBet> => ({
    address: row.address,
    event: name,
    eventId: playerEventId(row.id, row.state),
    data: publicBet(row),
  });

  /** One bet, committed by entry `at` (idempotent on the bet id). */
  const commitBet = (c: BetCommand, at: string, now: number, out: Outcome) => {
    const existing = getBet(db, c.id);
    if (existing) {
      if (existing.queueId !== null && existing.queueId !== at) {
        // A second reservation of a committed bet (the reservation script re-sent after a lost
        // reply, once the pending record was retired): return what it reserved, tell no one.
        out.effects.push(reservationEffect(existing, at, true));
        count(out.bets, 'duplicate', 1);
        return;
      }
      // This entry committed it before (redelivered after a crash): re-derive effect and event.
      out.effects.push(reservationEffect(existing, at));
      out.events.push(event(existing, existing.state === 'rejected' ? 'bet:rejected' : 'bet:confirmed'));
      return;
    }
    let state: BetRow['state'] = 'open';
    let reason: string | null = null;
    try {
      postMovement(db, { address: c.address, kind: 'bet-stake', amount: -c.stake, ref: `bet:${c.id}:stake`, meta: null }, now, out.chain);
    } catch (err) {
      // The conditional debit refused (cache and book disagreed) or the account is gone: the bet
      // is rejected visibly and its reservation returned; nothing was debited.
      if (!(err instanceof AppError)) throw err;
      state = 'rejected';
      reason = err.code;
      log.warn({ betId: c.id, reason }, 'bet rejected at commit; its reservation is returned');
    }
    const row = insertBet(db, {
      id: c.id,
      address: c.address,
      quoteId: c.quoteId,
      lowCents: c.lowCents,
      highCents: c.highCents,
      startMs: c.startMs,
      endMs: c.endMs,
      stake: c.stake,
      multiplierCents: c.multiplierCents,
      placedAt: c.placedAt,
      committedAt: now,
      state,
      payout: 0,
      reason,
      queueId: at,
    });
    count(out.bets, state === 'rejected' ? 'rejected' : 'committed', 1);
    if (state !== 'rejected') count(out.money, 'stake', c.stake);
    out.effects.push(reservationEffect(row, at));
    out.events.push(event(row, state === 'rejected' ? 'bet:rejected' : 'bet:confirmed'));
  };

  /** One settlement: only an open bet is settled; only the entry that settled it re-sends it. */
  const commitSettlement = (c: SettleCommand, at: string, now: number, out: Outcome) => {
    const bet = getBet(db, c.id);
    if (!bet) {
      log.error({ betId: c.id }, 'settlement for an unknown bet ignored');
      return;
    }
    let row: BetRow | undefined;
    if (bet.state === 'open') {
      const payout = c.outcome === 'won' ? payoutOf(bet.stake, bet.multiplierCents) : c.outcome === 'void' ? bet.stake : 0;
      row = settleBet(db, c.id, { state: c.outcome, payout, reason: c.reason, at: now, by: at });
      if (row && payout > 0) {
        const kind = c.outcome === 'won' ? 'bet-payout' : 'bet-refund';
        postMovement(db, { address: bet.address, kind, amount: payout, ref: `bet:${c.id}:${c.outcome === 'won' ? 'payout' : 'refund'}`, meta: { reason: c.reason } }, now, out.chain);
        count(out.money, kind, payout);
      }
    } else if (bet.settledBy === at) {
      row = bet; // redelivered: re-derive
    }
    const effect = row && settlementEffect(row, at);
    if (row && effect) {
      out.effects.push(effect);
      out.events.push(event(row, 'bet:settled'));
    }
  };

  /** An admin credit/debit or a demo grant, idempotent on its ref. */
  const commitMove = (c: MoveCommand, at: string, now: number, out: Outcome) => {
    try {
      if (c.createAccount) ensureUser(db, c.address, now);
      const { entry, replayed } = postMovement(db, { address: c.address, kind: c.kind, amount: c.amount, ref: c.ref, meta: { ...(c.meta ?? {}), queue: at } }, now, out.chain);
      const byThisEntry = !replayed || (entry.meta !== null && (JSON.parse(entry.meta) as { queue?: string }).queue === at);
      if (byThisEntry) out.effects.push(movementEffect(c.address, c.amount, at));
      const balance = findUser(db, c.address)?.balance ?? 0;
      out.results.push({
        id: c.id,
        result: { ok: true, applied: !replayed, seq: entry.seq, address: entry.address, kind: entry.kind, amount: entry.amount, ref: entry.ref, balanceAfter: entry.balanceAfter, balance, hash: entry.hash, createdAt: entry.createdAt },
      });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      out.results.push({ id: c.id, result: { ok: false, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
    }
  };

  return {
    /** Commit one command read from entry `at` into the open transaction, adding to `out`. */
    commit(cmd: WriterCommand, at: string, now: number, out: Outcome): void {
      if (cmd.t === 'bet') commitBet(cmd, at, now, out);
      else if (cmd.t === 'settle') commitSettlement(cmd, at, now, out);
      else if (cmd.t === 'move') commitMove(cmd, at, now, out);
      else if (cmd.t === 'load') out.loads.push(cmd.address);
    },
  };
}
