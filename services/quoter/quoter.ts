/**
 * The quoter: keeps σ (EWMA of 1-s log returns of the settlement series) and the spot, and
 * re-quotes the grid at 1-4 Hz. Every quote publishes what it was priced with (spot, σ per √s,
 * edge, monitoring interval, geometry) and every cell its band, window, probability and multiplier,
 * so anyone can recompute each multiplier. While the breaker is open the quote is `halted`.
 */
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis.js';
import { readBreaker } from '../shared/market/breaker-store.js';
import type { MarketMetrics } from '../shared/market/metrics.js';
import { publishQuote, type Quote } from '../shared/market/quote-store.js';
import { quoteKeys, type Channels } from '../shared/redis-names.js';
import type { SettlementTick, TickStore } from '../shared/market/tick-store.js';
import { buildGrid } from '../shared/pricing/grid.js';
import { annualToPerSecond, createVolatilityEstimator } from '../shared/pricing/volatility.js';

export interface QuoterDeps {
  config: Config;
  log: Logger;
  redis: Redis;
  ticks: TickStore;
  market: MarketMetrics;
  channels: Channels;
  now: () => number;
}

/** Gaps longer than this are feed outages, not the monitoring interval. */
const MAX_MONITORING_GAP_MS = 5_000;

export function createQuoter(deps: QuoterDeps) {
  const { config } = deps;
  const vol = createVolatilityEstimator({
    halfLifeSeconds: config.volatility.halfLifeSeconds,
    floor: annualToPerSecond(config.volatility.floorAnnual),
    cap: annualToPerSecond(config.volatility.capAnnual),
    initial: annualToPerSecond(config.volatility.initialAnnual),
  });
  let spot: SettlementTick | undefined;
  // Mean interval between settlement ticks (seconds): resolution looks at every tick, so the
  // touch probability is corrected for this discrete monitoring (Broadie-Glasserman-Kou).
  let monitoringDt = 0;
  let lastQuoteAt = 0;
  let lastVersion = 0;

  const onTick = (t: SettlementTick) => {
    if (spot && t.ts < spot.ts) return;
    if (spot && t.ts > spot.ts && t.ts - spot.ts <= MAX_MONITORING_GAP_MS) {
      const gap = (t.ts - spot.ts) / 1000;
      monitoringDt = monitoringDt === 0 ? gap : monitoringDt * 0.98 + gap * 0.02;
    }
    vol.update(t.ts, t.priceCents);
    spot = t;
  };

  return {
    onTick,
    /** Load recent history so σ is meaningful right after a restart. */
    async warmUp(windowMs = 30 * 60_000): Promise<number> {
      const now = deps.now();
      const history = await deps.ticks.range(now - windowMs, now);
      for (const t of history) onTick(t);
      return history.length;
    },
    /** Build and publish one quote; undefined while no price has been seen. */
    async quoteOnce(): Promise<Quote | undefined> {
      if (!spot) return undefined;
      const now = deps.now();
      const breaker = await readBreaker(deps.redis, now, config.breaker);
      // A Redis that lost its last writes (a crash under appendfsync everysec) counts from an
      // older value: never hand out a version (and id) again, which the API's cache and the
      // players' apps (they keep the highest version) would take for an old quote.
      let version = await deps.redis.incr(quoteKeys.version);
      if (version <= lastVersion) version = await deps.redis.incrby(quoteKeys.version, lastVersion + 1 - version);
      lastVersion = version;
      const sigma = vol.sigma();
      const rule = { edge: config.quotes.edge, minCents: config.quotes.minMultiplierCents, maxCents: config.quotes.maxMultiplierCents };
      const dt = Math.round(monitoringDt * 1000) / 1000;
      const { cells } = buildGrid({ spotCents: spot.priceCents, sigma, nowMs: now, geometry: config.grid, rule, monitoringDt: dt });
      const halted = breaker.state === 'open';
      const quote: Quote = {
        id: `q${version}`,
        version,
        createdAt: now,
        expiresAt: now + config.quotes.ttlMs,
        spotCents: spot.priceCents,
        spotTs: spot.ts,
        sigma,
        edge: config.quotes.edge,
        monitoringDt: dt,
        multiplier: { minCents: rule.minCents, maxCents: rule.maxCents },
        geometry: { ...config.grid },
        halted,
        cells: halted ? cells.map((c) => ({ ...c, disabled: true, reason: 'breaker-open' })) : cells,
      };
      // Keep each quote well past its expiry so a late bet is told "expired", not "unknown".
      await publishQuote(deps.redis, quote, { keepMs: Math.max(60_000, config.quotes.ttlMs * 10), channel: deps.channels.quotes });
      deps.market.quotes.inc();
      deps.market.sigma.set(sigma);
      lastQuoteAt = deps.now();
      return quote;
    },
    /** When the last quote was published (0 = none yet), for the readiness probe. */
    status: () => ({ lastQuoteAt }),
  };
}
