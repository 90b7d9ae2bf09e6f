/**
 * The writer's side of the available-balance cache. After each SQLite commit, every effect on the
 * cache (reservation resolved, payout, refund, admin movement, liability released) is applied
 * exactly once. Effects are tagged with the writer-queue entry (stream id) that caused them and
 * applied in queue order, so one watermark per account (`applied:<address>`, the newest entry
 * applied) is enough: a redelivered entry at or below it changes nothing. Nothing is kept per
 * bet: Redis memory does not grow with the number of bets.
 *
 * The scripts run with `allow-oom`: they shrink Redis (they retire pending records) or change
 * fixed-size counters, and the writer must always be able to acknowledge what it committed, even
 * while the API refuses taps because Redis is at its memory cap.
 */
import type { Redis } from '../redis.js';
import type { BetRow } from '../repos/bets.repo.js';
import { payoutOf } from './commands.js';
import { betKeys } from '../redis-names.js';

/** One change to the cache, derived from a committed row. */
export interface Effect {
  /** The writer-queue entry (stream id `<ms>-<seq>`) that caused it. */
  at: string;
  address: string;
  /** Change of the available balance (applied only if the cache of that address is loaded). */
  balance: number;
  /** Change of the queued stakes. */
  pending: number;
  /** Potential payout released from the cell and column caps. */
  release: number;
  startMs: number;
  lowCents: number;
  /** A bet whose pending record (its field of the player's pending hash) is retired by this effect. */
  retire?: string;
}

/**
 * What committing (or refusing) a reservation meant for the cache. `duplicate`: the entry is a
 * second reservation of a bet committed by another entry (a reservation script re-sent after a
 * lost reply): it is returned in full, like a rejection.
 */
export function reservationEffect(b: BetRow, at: string, duplicate = false): Effect {
  // Whole literals, not a spread plus two properties (several times the garbage per bet in V8).
  return b.state === 'rejected' || duplicate
    ? { at, address: b.address, balance: b.stake, pending: -b.stake, release: payoutOf(b.stake, b.multiplierCents), startMs: b.startMs, lowCents: b.lowCents, retire: b.id }
    : { at, address: b.address, balance: 0, pending: -b.stake, release: 0, startMs: b.startMs, lowCents: b.lowCents, retire: b.id };
}

/** What a settled bet means for the cache: payout or refund credited, caps released. */
export function settlementEffect(b: BetRow, at: string): Effect | undefined {
  if (b.state !== 'won' && b.state !== 'lost' && b.state !== 'void') return undefined;
  return { at, address: b.address, balance: b.payout, pending: 0, release: payoutOf(b.stake, b.multiplierCents), startMs: b.startMs, lowCents: b.lowCents };
}

/** An admin credit/debit or a demo grant: the available balance moves with the book. */
export function movementEffect(address: string, amount: number, at: string): Effect {
  return { at, address, balance: amount, pending: 0, release: 0, startMs: 0, lowCents: 0 };
}

const KEYS_PER_EFFECT = 6;
const ARGS_PER_EFFECT = 6;

/** Lua: whether stream id `a` (`<ms>-<seq>`) comes before `b`, compared as numbers part by part. */
export const LUA_STREAM_ID_BEFORE = `local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end`;

// Effects are compared with the watermark one by one, in order, but Redis is written once per
// key per call: the watermark and the balance/pending counters per account, the caps per cell and
// window, the retired records in one HDEL per account. The script is atomic, so the
// end state is the same as applying each effect alone (pending only ever decreases here, so
// "delete at <= 0" after the sum is the same as after each step).
/**
 * Lua: `applyEffects(kb, ab, n)` applies the n effects whose keys follow KEYS[kb] and whose
 * arguments follow ARGV[ab] (as `encode` lays them out) and returns how many were new. Needs
 * LUA_STREAM_ID_BEFORE. The bookkeeper's own script runs it alone; the writer's end-of-batch
 * script runs it before its acknowledgement, in the same atomic step.
 */
export const LUA_APPLY_EFFECTS = `local function applyEffects(kb, ab, n)
local marks, order, moved = {}, {}, {}
local bal, pend, rel = {}, {}, {}
local retiredBy = {}
local applied = 0
for i = 0, n - 1 do
  local k = kb + i * ${KEYS_PER_EFFECT}
  local a = ab + i * ${ARGS_PER_EFFECT}
  local at = ARGV[a + 1]
  local markKey = KEYS[k + 1]
  local mark = marks[markKey]
  if mark == nil then
    mark = redis.call('GET', markKey) or false
    order[#order + 1] = markKey
  end
  if not mark or before(mark, at) then
    applied = applied + 1
    marks[markKey] = at
    moved[markKey] = true
    local dBal = tonumber(ARGV[a + 2])
    if dBal ~= 0 then bal[KEYS[k + 2]] = (bal[KEYS[k + 2]] or 0) + dBal end
    local dPend = tonumber(ARGV[a + 3])
    if dPend ~= 0 then pend[KEYS[k + 3]] = (pend[KEYS[k + 3]] or 0) + dPend end
    local r = tonumber(ARGV[a + 4])
    if r ~= 0 then
      rel[KEYS[k + 4]] = (rel[KEYS[k + 4]] or 0) + r
      rel[KEYS[k + 5]] = (rel[KEYS[k + 5]] or 0) + r
    end
  else
    marks[markKey] = mark
  end
  -- Retiring a pending record is idempotent: done on every pass.
  if ARGV[a + 5] ~= '' then
    local h = KEYS[k + 6]
    if not retiredBy[h] then retiredBy[h] = {} end
    local list = retiredBy[h]
    list[#list + 1] = ARGV[a + 5]
  end
end
local ttl = ARGV[ab + 6]
for _, markKey in ipairs(order) do
  if moved[markKey] then redis.call('SET', markKey, marks[markKey], 'EX', ttl) end
end
for key, d in pairs(bal) do
  if d ~= 0 and redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, d) end
end
for key, d in pairs(pend) do
  if redis.call('INCRBY', key, d) <= 0 then redis.call('DEL', key) end
end
for key, d in pairs(rel) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECRBY', key, d) end
end
for h, list in pairs(retiredBy) do
  for i = 1, #list, 500 do redis.call('HDEL', h, unpack(list, i, math.min(i + 499, #list))) end
end
return applied
end`;

const APPLY = `#!lua flags=allow-oom
${LUA_STREAM_ID_BEFORE}
${LUA_APPLY_EFFECTS}
return applyEffects(0, 0, #KEYS / ${KEYS_PER_EFFECT})`;

/** Fill (or with force, rebuild) the cache: available = SQLite balance − queued stakes. */
const LOAD = `#!lua flags=allow-oom
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local p = tonumber(redis.call('GET', KEYS[2]) or '0')
if p < 0 then p = 0 end
redis.call('SET', KEYS[1], tonumber(ARGV[1]) - p)
redis.call('DEL', KEYS[3])
return 1`;

/**
 * How long an account's watermark is kept after its last effect. It must outlive any redelivery
 * of that account's entries (a writer down for days still finds its unacknowledged entries
 * covered); it is one small key per active account.
 */
const WATERMARK_TTL_SECONDS = 30 * 86_400;
const CHUNK = 500;

type Script = (numKeys: number, ...args: (string | number)[]) => Promise<number>;

/** The KEYS and ARGV of `effects` as LUA_APPLY_EFFECTS reads them (6 keys and 6 arguments each). */
function encode(effects: readonly Effect[]): { keys: string[]; args: (string | number)[] } {
  const keys: string[] = [];
  const args: (string | number)[] = [];
  for (const e of effects) {
    const retire = e.retire ?? '';
    keys.push(
      betKeys.appliedUpTo(e.address),
      betKeys.balance(e.address),
      betKeys.pending(e.address),
      betKeys.cellLiability(e.startMs, e.lowCents),
      betKeys.columnLiability(e.startMs),
      betKeys.pendingBets(e.address),
    );
    args.push(e.at, e.balance, e.pending, e.release, retire, WATERMARK_TTL_SECONDS);
  }
  return { keys, args };
}

export function createBookkeeper(redis: Redis) {
  redis.defineCommand('tapstackApply', { lua: APPLY });
  redis.defineCommand('tapstackLoad', { lua: LOAD });
  const cmd = redis as unknown as { tapstackApply: Script; tapstackLoad: Script };
  return {
    /** Apply effects once each, in the given (queue) order; resolves to how many were newly applied. */
    async apply(effects: Effect[]): Promise<number> {
      let applied = 0;
      for (let i = 0; i < effects.length; i += CHUNK) {
        const { keys, args } = encode(effects.slice(i, i + CHUNK));
        applied += await cmd.tapstackApply.call(redis, keys.length, ...keys, ...args);
      }
      return applied;
    },
    /** The KEYS and ARGV of effects for LUA_APPLY_EFFECTS in another script (the writer's acknowledgement). */
    encode,
    /** The most effects one script call applies (apply cuts larger lists into calls of this size). */
    chunk: CHUNK,
    /** Set the cache of `address` from its SQLite balance (only if missing, unless `force`). */
    async load(address: string, sqliteBalance: number, force: boolean): Promise<boolean> {
      const r = await cmd.tapstackLoad.call(redis, 3, betKeys.balance(address), betKeys.pending(address), betKeys.loading(address), sqliteBalance, force ? '1' : '0');
      return r === 1;
    },
  };
}

export type Bookkeeper = ReturnType<typeof createBookkeeper>;
