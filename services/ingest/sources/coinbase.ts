/**
 * Coinbase Exchange (ws-feed): BTC-USD `ticker` for prices, `heartbeat` for link liveness.
 * Prices arrive as decimal strings; `time` is RFC 3339 with microseconds.
 */
import type { FeedEvent, PriceSource } from '../../shared/market/tick.js';
import { centsOf, isoTimeOr, parseJsonObject } from './normalise.js';
import { exchangeSource, type ExchangeSourceOptions } from './ws-source.js';

/** Public feed endpoint. */
export const COINBASE_URL = 'wss://ws-feed.exchange.coinbase.com';
const PRODUCT = 'BTC-USD';
/** The subscribe frame; Coinbase closes links that do not subscribe within 5 s. */
export const COINBASE_SUBSCRIBE = JSON.stringify({ type: 'subscribe', product_ids: [PRODUCT], channels: ['ticker', 'heartbeat'] });

/**
 * Normalise one Coinbase frame: a BTC-USD `ticker` becomes a tick (exchange time from `time`), a
 * BTC-USD `heartbeat` a heartbeat, an `error` a status event; everything else (the `subscriptions`
 * ack, other products, malformed frames) nothing.
 */
export function normaliseCoinbase(raw: string, recvTs: number): FeedEvent[] {
  const m = parseJsonObject(raw);
  if (!m) return [];
  switch (m.type) {
    case 'ticker': {
      if (m.product_id !== PRODUCT) return [];
      const priceCents = centsOf(m.price);
      if (priceCents === undefined) return [];
      return [{ type: 'tick', tick: { source: 'coinbase', priceCents, ts: isoTimeOr(m.time, recvTs), recvTs } }];
    }
    case 'heartbeat':
      return m.product_id === PRODUCT ? [{ type: 'heartbeat', source: 'coinbase', recvTs }] : [];
    case 'error':
      // The link itself is still up (connected: true); the detail tells the operator why no prices come.
      return [{ type: 'status', source: 'coinbase', connected: true, detail: `exchange error: ${text(m.message)}${m.reason ? ` (${text(m.reason)})` : ''}` }];
    default:
      return [];
  }
}

/** The live Coinbase source. Heartbeats arrive every second, so 10 s of silence means a dead link. */
export function coinbaseSource(opts: ExchangeSourceOptions = {}): PriceSource {
  return exchangeSource({ name: 'coinbase', url: COINBASE_URL, subscribe: [COINBASE_SUBSCRIBE], normalise: normaliseCoinbase, idleTimeoutMs: 10_000 }, opts);
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined';
}
