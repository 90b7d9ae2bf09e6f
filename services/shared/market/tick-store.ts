/**
 * The settlement price series in Redis: a stream keyed by receive time (`<ms>-<n>` ids, so XRANGE
 * by time works) trimmed to the retention window, plus a pub/sub channel for live consumers.
 * Resolution reads every tick of a window from here: the rule quotes are priced with.
 */
import type { Redis } from '../redis.js';
import { TICKS_STREAM } from '../redis-names.js';

export interface SettlementTick {
  priceCents: number;
  /** Server receive time, ms. */
  ts: number;
}

export interface TickStore {
  append(tick: SettlementTick): Promise<void>;
  /** Every tick with from <= ts <= to, in time order. */
  range(fromMs: number, toMs: number): Promise<SettlementTick[]>;
  /** The latest tick, if any. */
  last(): Promise<SettlementTick | undefined>;
}

export function createTickStore(redis: Redis, opts: { retentionMs: number; now: () => number; channel: string }): TickStore {
  let lastMs = 0;
  const parse = (entries: [string, string[]][]): SettlementTick[] =>
    entries.map(([id, fields]) => {
      const p = fields[fields.indexOf('p') + 1];
      return { priceCents: Number(p), ts: Number(id.split('-')[0]) };
    });
  return {
    async append(tick) {
      // Stream ids must grow: a tick in the same or an earlier ms (clock step) gets the last ms.
      const ms = Math.max(tick.ts, lastMs);
      lastMs = ms;
      const minId = Math.max(0, opts.now() - opts.retentionMs);
      await redis
        .multi()
        .xadd(TICKS_STREAM, 'MINID', '~', String(minId), `${ms}-*`, 'p', String(tick.priceCents))
        .publish(opts.channel, JSON.stringify({ priceCents: tick.priceCents, ts: ms }))
        .exec();
    },
    async range(fromMs, toMs) {
      return parse((await redis.xrange(TICKS_STREAM, String(fromMs), String(toMs))) as [string, string[]][]);
    },
    async last() {
      return parse((await redis.xrevrange(TICKS_STREAM, '+', '-', 'COUNT', 1)) as [string, string[]][])[0];
    },
  };
}
