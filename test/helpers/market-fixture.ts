/**
 * Market state for betting tests without running ingest and quoter: a fresh breaker record and
 * a real quote built by the real pricing code, stored exactly as the quoter stores them.
 */
import type { Config } from '../../services/shared/config.js';
import { initialBreaker, onPrice } from '../../services/shared/market/breaker.js';
import { saveBreaker } from '../../services/shared/market/breaker-store.js';
import { publishQuote, type Quote } from '../../services/shared/market/quote-store.js';
import { buildGrid } from '../../services/shared/pricing/grid.js';
import type { Redis } from '../../services/shared/redis.js';
import { channels } from '../../services/shared/redis-names.js';

/** A breaker that is closed now (fresh prices for longer than the recovery period). */
export async function closeBreaker(redis: Redis, config: Config, now = Date.now()): Promise<void> {
  let r = initialBreaker(now - config.breaker.recoveryMs - 1000);
  for (let t = now - config.breaker.recoveryMs - 1000; t <= now; t += 1000) r = onPrice(r, t, config.breaker);
  await saveBreaker(redis, r);
}

/** An open (stale) breaker. */
export async function openBreaker(redis: Redis, now = Date.now()): Promise<void> {
  await saveBreaker(redis, { ...initialBreaker(now), lastPriceTs: now - 2 * 86_400_000, freshSince: now - 3 * 86_400_000, state: 'closed' });
}

let version = 1000;

/** Publish a quote priced by buildGrid at `now`; override fields to make it expired, halted... */
export async function publishTestQuote(redis: Redis, config: Config, overrides: Partial<Quote> = {}, now = Date.now()): Promise<Quote> {
  version += 1;
  const sigma = 8.9e-5;
  const spotCents = 10_000_000;
  const { cells } = buildGrid({ spotCents, sigma, nowMs: now, geometry: config.grid, rule: { edge: config.quotes.edge, minCents: config.quotes.minMultiplierCents, maxCents: config.quotes.maxMultiplierCents } });
  const quote: Quote = {
    id: `q${version}`,
    version,
    createdAt: now,
    expiresAt: now + 60_000,
    spotCents,
    spotTs: now,
    sigma,
    edge: config.quotes.edge,
    monitoringDt: 0,
    multiplier: { minCents: config.quotes.minMultiplierCents, maxCents: config.quotes.maxMultiplierCents },
    geometry: { ...config.grid },
    halted: false,
    cells,
    ...overrides,
  };
  await publishQuote(redis, quote, { keepMs: 600_000, channel: channels(config.redis.prefix).quotes });
  return quote;
}

/** An open cell far enough in the future not to lock during a test. */
export function tappableCell(q: Quote, lockSeconds: number, now = Date.now()) {
  const cell = q.cells
    .filter((c) => !c.disabled && c.startMs - now > (lockSeconds + 10) * 1000)
    .sort((a, b) => b.multiplierCents - a.multiplierCents)
    .find((c) => c.multiplierCents >= 150);
  if (!cell) throw new Error('no tappable cell in the test quote');
  return cell;
}
