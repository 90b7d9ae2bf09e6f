/**
 * Every Redis name Tapstack uses, in one place: keys (and key builders), streams, the writer's
 * consumer group, pub/sub channels, and the message each one carries. Every process, the admin
 * CLI, the bench and the tests name Redis through this module; test/unit/redis-names.test.ts fails
 * on a key literal anywhere else (its list of prefixes is derived from the exports below, so a name
 * added here is policed at once).
 *
 * Keys are relative: each connection adds the configured `TAPSTACK_REDIS_PREFIX` (ioredis
 * `keyPrefix`), except where Redis takes a key in a position ioredis does not rewrite (XGROUP
 * subcommands: `fullKeyName`) and for channels, which ioredis never prefixes (`channels(prefix)`).
 *
 * The encoders and decoders of the messages stay with their domain (betting/commands.ts,
 * market/*-store.ts, sessions.ts); the types named here are what each name carries.
 */
import type { BreakerRecord } from './market/breaker.js';
import type { BetCommand, MoveResult, PlayerEvent, WriterCommand } from './betting/commands.js';
import type { Quote } from './market/quote-store.js';
import type { SettlementTick } from './market/tick-store.js';

/**
 * The betting path. Available balance = SQLite balance − stakes still queued (`pending`), kept in
 * `balance` by the API's reservation script and the writer's bookkeeping.
 */
export const betKeys = {
  /** Available balance (minor units, an integer string) of an address: what new taps may spend. */
  balance: (address: string) => `bal:${address}`,
  /** Stakes reserved and queued but not yet committed by the writer (integer string). */
  pending: (address: string) => `pend:${address}`,
  /** Idempotency-Key → bet id, per address. */
  idempotency: (address: string, key: string) => `idem:${address}:${key}`,
  /** Per-wallet tap counter of one second. */
  rate: (address: string, second: number) => `rl:bet:${address}:${second}`,
  /** Potential payout reserved on one cell (a band in a window); lowCents '*': a pattern for the window's cells. */
  cellLiability: (startMs: number, lowCents: number | '*') => `liab:cell:${startMs}:${lowCents}`,
  /** Potential payout reserved on one column (window). */
  columnLiability: (startMs: number) => `liab:col:${startMs}`,
  /**
   * The newest writer-queue entry (stream id) whose cache effects on this address are applied:
   * one key per account, so exactly-once bookkeeping costs no memory per bet.
   */
  appliedUpTo: (address: string) => `applied:${address}`,
  /**
   * An address's bets accepted but not yet committed: a hash of bet id → encodeCommand({@link BetCommand})
   * (GET /api/bets/:id while pending, GET /api/me/bets?state=pending). One key per player with
   * bets in flight, not two per bet (issue 17: the reservation's Redis time). Bet ids sort by time.
   */
  pendingBets: (address: string) => `pendh:${address}`,
  /** Where the writer answers a MoveCommand: a list (BLPOP-able) of JSON {@link MoveResult}. */
  moveResult: (id: string) => `mvres:${id}`,
  /** A balance load was requested recently (debounce). */
  loading: (address: string) => `loading:${address}`,
};

/** The breaker record: JSON {@link BreakerRecord}, written by ingest, evaluated by every reader. */
export const BREAKER_KEY = 'market:breaker';

/** Grid quotes: JSON {@link Quote}, written by the quoter. */
export const quoteKeys = {
  /** The current quote (one GET for the API and realtime). */
  current: 'quote:current',
  /** Each quote by id, kept while bets may still name it. */
  byId: (id: string) => `quote:${id}`,
  /** The counter quote versions are drawn from (INCR). */
  version: 'quote:version',
};

/** Sign-in and sessions (the API; realtime reads sessions). */
export const authKeys = {
  /** A session: JSON `{address, createdAt}`, keyed by the SHA-256 (hex) of its token, never the token. */
  session: (tokenSha256: string) => `session:${tokenSha256}`,
  /** A sign-in nonce issued and not yet used. */
  nonce: (nonce: string) => `nonce:${nonce}`,
  /** A consumed nonce's marker (a replay is told apart from an expired nonce). */
  nonceUsed: (nonce: string) => `nonce-used:${nonce}`,
  /** Key prefixes of the sign-in rate limiters (rate-limiter-flexible appends `:<ip>` / `:<address>`). */
  rateLimitByIp: 'rl:auth-ip',
  rateLimitByAddress: 'rl:auth-addr',
};

/** The scheduler's last ledger integrity report (JSON IntegrityReport, shared/integrity.ts). */
export const INTEGRITY_REPORT_KEY = 'integrity:last';

/**
 * The single writer's queue: one Redis stream that every money movement passes through, in order.
 * The API enqueues bets (atomically with the stake reservation: betting/reserve.ts) and demo
 * grants, the resolver enqueues settlements, the CLI enqueues admin credits and debits, the API
 * asks for balance loads; only services/writer consumes it and commits them: it is the one process
 * that moves money (the CLI commits a movement itself only while it holds the writer's lock, i.e.
 * when no writer runs: services/shared/writer-lock.ts). Each entry: field `c` =
 * encodeCommand({@link WriterCommand}).
 */
export const WRITER_STREAM = 'writer:queue';
/** The writer's consumer group on WRITER_STREAM, and its one consumer. */
export const WRITER_GROUP = 'writer';
export const WRITER_CONSUMER = 'writer';
/** Queue entries the writer could not read: fields `from` (the entry's id) and `c` (its fields as JSON, or 'missing'). */
export const DEAD_LETTERS = 'writer:dead';
/** The settlement price series: ids `<receive ms>-<n>`, field `p` = price in cents ({@link SettlementTick}). */
export const TICKS_STREAM = 'ticks:settlement';

/** A breaker transition as announced on the breaker channel. */
export type BreakerAnnouncement = Pick<BreakerRecord, 'state' | 'changedAt'>;

/** The message (JSON) on each pub/sub channel. */
export interface ChannelMessages {
  /** Settlement ticks, as appended to TICKS_STREAM. */
  ticks: SettlementTick;
  /** Grid quotes (the full quote). */
  quotes: Quote;
  /** Breaker transitions. */
  breaker: BreakerAnnouncement;
  /** Per-player events (bet confirmations, rejections, settlements): a JSON array, betting/commands.ts encodePlayerEvents. */
  userEvents: PlayerEvent[];
}

/** Pub/sub channel names, one per {@link ChannelMessages} entry. */
export type Channels = { [K in keyof ChannelMessages]: string };

/**
 * The channel names of an installation. ioredis prefixes keys but not channels, so every channel
 * carries the configured prefix explicitly: two installations sharing one Redis never hear each other.
 */
export function channels(prefix: string): Channels {
  return { ticks: `${prefix}ticks`, quotes: `${prefix}quotes`, breaker: `${prefix}breaker`, userEvents: `${prefix}user-events` };
}

/**
 * A key named in full, with the connection's keyPrefix, for the commands whose key ioredis does
 * not prefix by itself (the key of an XGROUP subcommand) and for connections without a prefix.
 */
export const fullKeyName = (redis: { options: { keyPrefix?: string } }, key: string): string => `${redis.options.keyPrefix ?? ''}${key}`;
