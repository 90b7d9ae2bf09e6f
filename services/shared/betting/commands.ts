/**
 * The commands on the single writer's queue (WRITER_STREAM, services/shared/redis-names.ts) and
 * the player events the writer publishes (channel `userEvents`), with their encoders and decoders.
 */
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

/** Kinds of ledger movement that are not bets: admin credit/debit and the demo starting grant. */
export type MoveKind = 'credit' | 'debit' | 'demo-grant';

/**
 * A money movement that is not a bet. Idempotent on `ref` (the ledger's unique ref). The writer
 * answers on the list `betKeys.moveResult(id)` with a MoveResult, so the requester can wait.
 */
export interface MoveCommand {
  t: 'move';
  /** Request id (where the result is posted). */
  id: string;
  address: string;
  kind: MoveKind;
  /** Signed minor units: positive for credit and demo-grant, negative for debit. */
  amount: number;
  ref: string;
  meta: Record<string, unknown> | null;
  /** Create the account if it does not exist (credit, demo grant); a debit needs an account. */
  createAccount: boolean;
  requestedAt: number;
}

/** The writer's answer to a MoveCommand. */
export type MoveResult =
  | { ok: true; applied: boolean; seq: number; address: string; kind: string; amount: number; ref: string; balanceAfter: number; balance: number; hash: string; createdAt: number }
  | { ok: false; code: string; message: string; details?: Record<string, unknown> };

export type WriterCommand = BetCommand | LoadCommand | SettleCommand | MoveCommand;

export const encodeCommand = (c: WriterCommand): string => JSON.stringify(c);
export const decodeCommand = (raw: string): WriterCommand => {
  const c = JSON.parse(raw) as WriterCommand;
  if (!c || typeof c !== 'object' || !['bet', 'load', 'settle', 'move'].includes((c as { t?: string }).t ?? '')) throw new Error('not a writer command');
  return c;
};

/** What a player is told about one of their bets (socket.io event name). */
export type PlayerEventName = 'bet:confirmed' | 'bet:rejected' | 'bet:settled';

/**
 * A player event on the user-events channel: derived from the committed row and sent at least
 * once; `eventId` (`<betId>:<state>`) is what the realtime service and clients de-duplicate on.
 */
export interface PlayerEvent<B = unknown> {
  address: string;
  event: PlayerEventName;
  eventId: string;
  data: B;
}

export const playerEventId = (betId: string, state: string): string => `${betId}:${state}`;

/** Events per user-events message: one PUBLISH per batch slice, not per bet (the writer's Redis cost). */
export const PLAYER_EVENTS_PER_MESSAGE = 256;

/** The user-events messages for a batch's events: JSON arrays of at most PLAYER_EVENTS_PER_MESSAGE. */
export function encodePlayerEvents(events: readonly PlayerEvent[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < events.length; i += PLAYER_EVENTS_PER_MESSAGE) out.push(JSON.stringify(events.slice(i, i + PLAYER_EVENTS_PER_MESSAGE)));
  return out;
}

/** The events of one user-events message (an array, or one event as older writers sent); throws on anything else. */
export function decodePlayerEvents(message: string): PlayerEvent<Record<string, unknown>>[] {
  const parsed = JSON.parse(message) as unknown;
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const e of list as Partial<PlayerEvent>[]) {
    if (typeof e?.address !== 'string' || typeof e.event !== 'string' || typeof e.eventId !== 'string' || typeof e.data !== 'object' || e.data === null) {
      throw new Error('not a player event');
    }
  }
  return list as PlayerEvent<Record<string, unknown>>[];
}

/** Winnings of a bet: stake × multiplier, floored to the minor unit (the house keeps the dust). */
export const payoutOf = (stake: number, multiplierCents: number): number => Math.floor((stake * multiplierCents) / 100);
