/** The breaker record in Redis: written by ingest, read (and evaluated) by every process. */
import type { Redis } from '../redis.js';
import { BREAKER_KEY, type BreakerAnnouncement } from '../redis-names.js';
import { breakerStateAt, initialBreaker, stalenessSeconds, type BreakerConfig, type BreakerRecord, type BreakerState } from './breaker.js';

export interface BreakerView {
  state: BreakerState;
  stalenessSeconds: number | null;
  lastPriceTs: number | null;
  changedAt: number;
  transitions: number;
}

export async function loadBreaker(redis: Redis, now: number): Promise<BreakerRecord> {
  const raw = await redis.get(BREAKER_KEY);
  if (!raw) return initialBreaker(now);
  try {
    const r = { ...initialBreaker(now), ...(JSON.parse(raw) as Partial<BreakerRecord>) };
    // Times must be numbers (or null): anything else is no evidence of a fresh price, as in the
    // reservation script, which refuses such a record as open.
    const time = (v: unknown) => v === null || typeof v === 'number';
    return time(r.lastPriceTs) && time(r.freshSince) ? r : initialBreaker(now);
  } catch {
    return initialBreaker(now);
  }
}

/** Store the record; `announceOn` = channel to publish a transition on (omit when unchanged). */
export async function saveBreaker(redis: Redis, r: BreakerRecord, announceOn?: string): Promise<void> {
  const m = redis.multi().set(BREAKER_KEY, JSON.stringify(r));
  if (announceOn) m.publish(announceOn, JSON.stringify({ state: r.state, changedAt: r.changedAt } satisfies BreakerAnnouncement));
  await m.exec();
}

/** What a reader should believe now: the record evaluated against the reader's own clock. */
export async function readBreaker(redis: Redis, now: number, c: BreakerConfig): Promise<BreakerView> {
  const r = await loadBreaker(redis, now);
  const s = stalenessSeconds(r, now);
  return {
    state: breakerStateAt(r, now, c),
    stalenessSeconds: Number.isFinite(s) ? Math.round(s * 1000) / 1000 : null,
    lastPriceTs: r.lastPriceTs,
    changedAt: r.changedAt,
    transitions: r.transitions,
  };
}
