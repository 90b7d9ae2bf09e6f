/**
 * Bet acceptance in one atomic Redis step (a Lua script): idempotency replay, per-wallet rate limit,
 * breaker, available balance, per-cell and per-column liability caps, then the reservation
 * (balance −stake, pending +stake, liabilities +payout) and the enqueueing of the bet on the
 * writer's stream. Either all of it happens or none: an API killed after answering 202 loses nothing.
 * Idempotent on the bet id, so a re-sent script (lost reply, reconnect) reserves nothing twice.
 */
import type { Redis } from '../redis.js';
import { BREAKER_KEY, WRITER_STREAM, betKeys } from '../redis-names.js';
import { decodeCommand, encodeCommand, type BetCommand, type LoadCommand } from './commands.js';

// `#!lua` (no allow-oom): Redis refuses the whole script up front at its memory cap, never halfway.
const RESERVE = `#!lua
local now = tonumber(ARGV[1])
-- This very bet is already reserved and queued: the script ran before and its reply was lost
-- (Redis stopped before answering; the client library re-sends unanswered commands on reconnect).
-- Reserving it again would take the stake twice from the cache and leave pend stuck forever.
if redis.call('HEXISTS', KEYS[9], ARGV[10]) == 1 then return {'ok', ARGV[10], redis.call('GET', KEYS[1]) or '0'} end
if ARGV[13] == '1' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {'replay', existing} end
end
local n = redis.call('INCR', KEYS[4])
if n == 1 then redis.call('PEXPIRE', KEYS[4], 2000) end
if n > tonumber(ARGV[6]) then return {'err', 'rate-limited'} end
local raw = redis.call('GET', KEYS[7])
if not raw then return {'err', 'breaker-open'} end
-- A record that is not the breaker's JSON, or lacks a field, refuses as open (readBreaker fills
-- missing fields with the initial, open record).
local ok, br = pcall(cjson.decode, raw)
if not ok or type(br) ~= 'table' or type(br.lastPriceTs) ~= 'number' then return {'err', 'breaker-open'} end
if now - br.lastPriceTs > tonumber(ARGV[2]) then return {'err', 'breaker-open'} end
if br.state ~= 'closed' and (type(br.freshSince) ~= 'number' or now - br.freshSince < tonumber(ARGV[3])) then return {'err', 'breaker-open'} end
local bal = redis.call('GET', KEYS[1])
if not bal then return {'err', 'balance-not-loaded'} end
local stake = tonumber(ARGV[4])
if tonumber(bal) < stake then return {'err', 'insufficient-funds', bal} end
local payout = tonumber(ARGV[5])
-- The caps: add, then take back if over (the script is atomic, so no one sees the sum). A key the
-- add created (its value is this payout) gets its TTL then, once: it is the same for every bet
-- of the window, and a take-back that would leave a created key at 0 deletes it instead.
local function undo(key, v)
  if v == payout then redis.call('DEL', key) else redis.call('DECRBY', key, payout) end
end
local cell = redis.call('INCRBY', KEYS[5], payout)
if cell > tonumber(ARGV[7]) then undo(KEYS[5], cell) return {'err', 'cell-liability-cap'} end
local col = redis.call('INCRBY', KEYS[6], payout)
if col > tonumber(ARGV[8]) then undo(KEYS[6], col) undo(KEYS[5], cell) return {'err', 'column-liability-cap'} end
if cell == payout then redis.call('PEXPIRE', KEYS[5], ARGV[9]) end
if col == payout then redis.call('PEXPIRE', KEYS[6], ARGV[9]) end
local left = redis.call('DECRBY', KEYS[1], stake)
redis.call('INCRBY', KEYS[2], stake)
redis.call('XADD', KEYS[8], '*', 'c', ARGV[11])
-- The pending record (a field of the player's pending hash) lives until the writer commits the
-- bet: it removes the field, so the hash is deleted whenever it empties. The hash's TTL is a
-- safety net only, topped up when it has run down by a few minutes, not on every tap.
redis.call('HSET', KEYS[9], ARGV[10], ARGV[11])
if redis.call('TTL', KEYS[9]) < 86100 then redis.call('EXPIRE', KEYS[9], 86400) end
if ARGV[13] == '1' then redis.call('SET', KEYS[3], ARGV[10], 'EX', ARGV[12]) end
return {'ok', ARGV[10], tostring(left)}`;

export type ReserveResult =
  | { kind: 'ok'; betId: string; available: number }
  | { kind: 'replay'; betId: string }
  | { kind: 'refused'; code: string; available?: number };

export interface ReserveLimits {
  staleAfterMs: number;
  recoveryMs: number;
  ratePerSecond: number;
  cellCap: number;
  columnCap: number;
  /**
   * How long an Idempotency-Key is remembered: the quote's lifetime (a retry after it cannot
   * place a second bet anyway: the quote is expired) plus the time a client keeps retrying.
   */
  idempotencyTtlSeconds: number;
}

/** The script as ioredis defines it: EVALSHA, falling back to EVAL after a Redis restart. */
type ReserveCommand = (numKeys: number, ...args: (string | number)[]) => Promise<string[]>;

export function createReserver(redis: Redis, limits: ReserveLimits) {
  redis.defineCommand('tapstackReserve', { lua: RESERVE });
  const run = (redis as unknown as { tapstackReserve: ReserveCommand }).tapstackReserve.bind(redis);
  return {
    async reserve(bet: BetCommand, opts: { now: number; idempotencyKey?: string }): Promise<ReserveResult> {
      const k = betKeys;
      const idemKey = opts.idempotencyKey ?? '';
      const r = await run(
        9,
        k.balance(bet.address),
        k.pending(bet.address),
        k.idempotency(bet.address, idemKey),
        k.rate(bet.address, Math.floor(opts.now / 1000)),
        k.cellLiability(bet.startMs, bet.lowCents),
        k.columnLiability(bet.startMs),
        BREAKER_KEY,
        WRITER_STREAM,
        k.pendingBets(bet.address),
        opts.now,
        limits.staleAfterMs,
        limits.recoveryMs,
        bet.stake,
        bet.payout,
        limits.ratePerSecond,
        limits.cellCap,
        limits.columnCap,
        Math.max(60_000, bet.endMs - opts.now + 3_600_000),
        bet.id,
        encodeCommand(bet),
        limits.idempotencyTtlSeconds,
        idemKey ? '1' : '0',
      );
      if (r[0] === 'ok') return { kind: 'ok', betId: String(r[1]), available: Number(r[2]) };
      if (r[0] === 'replay') return { kind: 'replay', betId: String(r[1]) };
      return { kind: 'refused', code: String(r[1]), ...(r[2] !== undefined ? { available: Number(r[2]) } : {}) };
    },
    /** Ask the writer to fill the balance cache of `address` (debounced). */
    async requestLoad(address: string): Promise<void> {
      const fresh = await redis.set(betKeys.loading(address), '1', 'PX', 2000, 'NX');
      if (fresh === 'OK') await redis.xadd(WRITER_STREAM, '*', 'c', encodeCommand({ t: 'load', address } satisfies LoadCommand));
    },
    /** The address's bets accepted but not yet committed, oldest first. */
    pendingBets: (address: string, limit: number) => readPendingBets(redis, address, limit),
    async available(address: string): Promise<number | undefined> {
      const v = await redis.get(betKeys.balance(address));
      return v === null ? undefined : Number(v);
    },
  };
}

export type Reserver = ReturnType<typeof createReserver>;

/** An address's bets accepted (202) but not yet committed by the writer, oldest first. */
export async function readPendingBets(redis: Redis, address: string, limit: number): Promise<BetCommand[]> {
  // A player's bets in flight are few (the rate limit × the commit latency): read them all, then
  // order them by id (an id starts with its placement time, base 36 of fixed width).
  const all = await redis.hgetall(betKeys.pendingBets(address));
  const out: BetCommand[] = [];
  for (const id of Object.keys(all).sort().slice(0, limit)) {
    const c = decodeCommand(all[id] as string);
    if (c.t === 'bet' && c.address === address) out.push(c);
  }
  return out;
}
