/**
 * The writer's side of the available-balance cache. After each SQLite commit, every effect on
 * the cache (reservation resolved, payout, refund, liability released) is applied exactly once,
 * guarded by a marker per effect (`applied:<ref>`): a writer killed between commit and ack
 * re-applies nothing when the entries are redelivered.
 */
import type { Redis } from '../redis.js';
import type { BetRow } from '../repos/bets.repo.js';
import { payoutOf } from './commands.js';
import { betKeys } from './keys.js';

/** One change to the cache, derived from a bet row's committed state. */
export interface Effect {
  ref: string;
  address: string;
  /** Change of the available balance (applied only if the cache of that address is loaded). */
  balance: number;
  /** Change of the queued stakes. */
  pending: number;
  /** Potential payout released from the cell and column caps. */
  release: number;
  startMs: number;
  lowCents: number;
}

/** What committing a bet meant for the cache: the reservation resolved (and refunded if rejected). */
export function reservationEffect(b: BetRow): Effect {
  const base = { ref: `bet:${b.id}:reservation`, address: b.address, pending: -b.stake, startMs: b.startMs, lowCents: b.lowCents };
  return b.state === 'rejected'
    ? { ...base, balance: b.stake, release: payoutOf(b.stake, b.multiplierCents) }
    : { ...base, balance: 0, release: 0 };
}

/** What a settled bet means for the cache: payout or refund credited, caps released. */
export function settlementEffect(b: BetRow): Effect | undefined {
  if (b.state !== 'won' && b.state !== 'lost' && b.state !== 'void') return undefined;
  return {
    ref: `bet:${b.id}:settlement`,
    address: b.address,
    balance: b.payout,
    pending: 0,
    release: payoutOf(b.stake, b.multiplierCents),
    startMs: b.startMs,
    lowCents: b.lowCents,
  };
}

const APPLY = `
local applied = 0
for i = 0, #KEYS / 5 - 1 do
  local k = i * 5
  local a = i * 4
  if redis.call('SET', KEYS[k + 1], '1', 'NX', 'EX', ARGV[a + 4]) then
    applied = applied + 1
    local dBal = tonumber(ARGV[a + 1])
    if dBal ~= 0 and redis.call('EXISTS', KEYS[k + 2]) == 1 then redis.call('INCRBY', KEYS[k + 2], dBal) end
    local dPend = tonumber(ARGV[a + 2])
    if dPend ~= 0 then
      if redis.call('INCRBY', KEYS[k + 3], dPend) <= 0 then redis.call('DEL', KEYS[k + 3]) end
    end
    local rel = tonumber(ARGV[a + 3])
    if rel ~= 0 then
      for j = 4, 5 do
        if redis.call('EXISTS', KEYS[k + j]) == 1 then redis.call('DECRBY', KEYS[k + j], rel) end
      end
    end
  end
end
return applied`;

/** Fill (or with force, rebuild) the cache: available = SQLite balance − queued stakes. */
const LOAD = `
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local p = tonumber(redis.call('GET', KEYS[2]) or '0')
if p < 0 then p = 0 end
redis.call('SET', KEYS[1], tonumber(ARGV[1]) - p)
redis.call('DEL', KEYS[3])
return 1`;

/**
 * How long an applied-effect marker is kept: long enough to cover a redelivery after a writer
 * restart and a late duplicate settlement, short enough that markers (~150 B each) cannot fill
 * Redis's memory cap at sustained tap rates (a week of markers at 10 bets/s would be ~900 MB).
 * A marker that expired before its entry came back can only skew the cache, which the writer's
 * start-up rebuild and SQLite's conditional debit bound: a bet is then rejected, never overdrawn.
 */
const MARKER_TTL_SECONDS = 3_600;
const CHUNK = 500;

type Script = (numKeys: number, ...args: (string | number)[]) => Promise<number>;

export function createBookkeeper(redis: Redis) {
  redis.defineCommand('tapstackApply', { lua: APPLY });
  redis.defineCommand('tapstackLoad', { lua: LOAD });
  const cmd = redis as unknown as { tapstackApply: Script; tapstackLoad: Script };
  return {
    /** Apply effects once each; resolves to how many were newly applied. */
    async apply(effects: Effect[]): Promise<number> {
      let applied = 0;
      for (let i = 0; i < effects.length; i += CHUNK) {
        const keys: string[] = [];
        const args: (string | number)[] = [];
        for (const e of effects.slice(i, i + CHUNK)) {
          keys.push(betKeys.applied(e.ref), betKeys.balance(e.address), betKeys.pending(e.address), betKeys.cellLiability(e.startMs, e.lowCents), betKeys.columnLiability(e.startMs));
          args.push(e.balance, e.pending, e.release, MARKER_TTL_SECONDS);
        }
        applied += await cmd.tapstackApply.call(redis, keys.length, ...keys, ...args);
      }
      return applied;
    },
    /** Set the cache of `address` from its SQLite balance (only if missing, unless `force`). */
    async load(address: string, sqliteBalance: number, force: boolean): Promise<boolean> {
      const r = await cmd.tapstackLoad.call(redis, 3, betKeys.balance(address), betKeys.pending(address), betKeys.loading(address), sqliteBalance, force ? '1' : '0');
      return r === 1;
    },
  };
}

export type Bookkeeper = ReturnType<typeof createBookkeeper>;
