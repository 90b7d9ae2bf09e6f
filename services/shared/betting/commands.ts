/**
 * The single writer's queue: one Redis stream that every money movement passes through, in order.
 * The API enqueues bets (atomically with the stake reservation, see reserve.lua.ts), the resolver
 * enqueues settlements, the API asks for balance loads; only services/writer consumes it.
 */
export const WRITER_STREAM = 'writer:queue';
export const WRITER_GROUP = 'writer';

/** A bet accepted by the API (202) and waiting to be committed. Money in minor units. */
export interface BetCommand {
  t: 'bet';
  id: string;
  address: string;
  quoteId: string;
  lowCents: number;
  highCents: number;
  startMs: number;
  endMs: number;
  stake: number;
  multiplierCents: number;
  /** Potential payout reserved against the liability caps: floor(stake * multiplierCents / 100). */
  payout: number;
  placedAt: number;
}

/** Fill the available-balance cache of an address from SQLite (asked for on a cache miss). */
export interface LoadCommand {
  t: 'load';
  address: string;
}

export type Outcome = 'won' | 'lost' | 'void';

/** The resolver's verdict on an open bet. Idempotent: only an `open` bet is settled. */
export interface SettleCommand {
  t: 'settle';
  id: string;
  outcome: Outcome;
  /** Why (e.g. 'touched', 'not-touched', 'feed-gap'); stored with the settlement. */
  reason: string;
  decidedAt: number;
}

export type WriterCommand = BetCommand | LoadCommand | SettleCommand;

export const encodeCommand = (c: WriterCommand): string => JSON.stringify(c);
export const decodeCommand = (raw: string): WriterCommand => JSON.parse(raw) as WriterCommand;

/** Winnings of a bet: stake × multiplier, floored to the minor unit (the house keeps the dust). */
export const payoutOf = (stake: number, multiplierCents: number): number => Math.floor((stake * multiplierCents) / 100);
