/** Market metrics (breaker, feed, quotes), registered on a process's own registry. */
import { Counter, Gauge, type Registry } from 'prom-client';

export function createMarketMetrics(registry: Registry) {
  const registers = [registry];
  return {
    breakerOpen: new Gauge({ name: 'tapstack_breaker_open', help: '1 while the stale-feed circuit breaker is open (taps refused)', registers }),
    breakerStaleness: new Gauge({ name: 'tapstack_price_staleness_seconds', help: 'Seconds since the last real price update', registers }),
    breakerTransitions: new Counter({ name: 'tapstack_breaker_transitions_total', help: 'Circuit breaker state changes', labelNames: ['to'], registers }),
    sourceTicks: new Counter({ name: 'tapstack_feed_ticks_total', help: 'Real price updates received, by source', labelNames: ['source'], registers }),
    sourceHeartbeats: new Counter({ name: 'tapstack_feed_heartbeats_total', help: 'Heartbeats received (not prices), by source', labelNames: ['source'], registers }),
    sourceConnected: new Gauge({ name: 'tapstack_feed_connected', help: '1 while a source is connected', labelNames: ['source'], registers }),
    sourceRejected: new Gauge({ name: 'tapstack_feed_source_rejected', help: '1 while a source is rejected as an outlier or stale', labelNames: ['source'], registers }),
    settlementPrice: new Gauge({ name: 'tapstack_settlement_price_cents', help: 'Latest settlement (median) price in cents', registers }),
    quotes: new Counter({ name: 'tapstack_quotes_total', help: 'Grid quotes published', registers }),
    sigma: new Gauge({ name: 'tapstack_volatility_sigma_per_sqrt_second', help: 'Volatility used for pricing (per sqrt second)', registers }),
  };
}

export type MarketMetrics = ReturnType<typeof createMarketMetrics>;
