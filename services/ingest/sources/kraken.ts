/**
 * Kraken spot WebSocket v2: the BTC/USD `ticker` channel (one update per trade) for prices, the
 * `heartbeat` channel for liveness. Unlike the other two, v2 sends prices as JSON numbers.
 */
import type { FeedEvent, PriceSource } from '../../shared/market/tick.js';
import { centsOf, isoTimeOr, isRecord, parseJsonObject } from './normalise.js';
import { exchangeSource, type ExchangeSourceOptions } from './ws-source.js';

/** Public v2 endpoint. */
export const KRAKEN_URL = 'wss://ws.kraken.com/v2';
const SYMBOL = 'BTC/USD';
/** The subscribe frame (heartbeats start flowing once any subscription exists). */
export const KRAKEN_SUBSCRIBE = JSON.stringify({ method: 'subscribe', params: { channel: 'ticker', symbol: [SYMBOL] } });

/**
 * Normalise one Kraken v2 frame: each BTC/USD entry of a ticker `snapshot`/`update` becomes a tick
 * priced at `last` (exchange time from `timestamp` when present); `heartbeat` a heartbeat; a failed
 * subscribe or a non-online system status a status event; acks and everything else nothing.
 */
export function normaliseKraken(raw: string, recvTs: number): FeedEvent[] {
  const m = parseJsonObject(raw);
  if (!m) return [];
  if (m.channel === 'heartbeat') return [{ type: 'heartbeat', source: 'kraken', recvTs }];
  if (m.channel === 'ticker' && (m.type === 'snapshot' || m.type === 'update') && Array.isArray(m.data)) {
    const out: FeedEvent[] = [];
    for (const entry of m.data) {
      if (!isRecord(entry) || entry.symbol !== SYMBOL) continue;
      const priceCents = centsOf(entry.last);
      if (priceCents === undefined) continue;
      out.push({ type: 'tick', tick: { source: 'kraken', priceCents, ts: isoTimeOr(entry.timestamp, recvTs), recvTs } });
    }
    return out;
  }
  if (m.method === 'subscribe' && m.success === false) {
    return [{ type: 'status', source: 'kraken', connected: true, detail: `subscribe failed: ${String(m.error)}` }];
  }
  if (m.channel === 'status' && Array.isArray(m.data) && isRecord(m.data[0])) {
    const system = m.data[0].system;
    // 'online' is the normal greeting; maintenance/cancel_only/post_only mean prices may stop.
    if (typeof system === 'string' && system !== 'online') {
      return [{ type: 'status', source: 'kraken', connected: true, detail: `exchange status: ${system}` }];
    }
  }
  return [];
}

/** The live Kraken source. Heartbeats arrive about once a second, so 10 s of silence means a dead link. */
export function krakenSource(opts: ExchangeSourceOptions = {}): PriceSource {
  return exchangeSource({ name: 'kraken', url: KRAKEN_URL, subscribe: [KRAKEN_SUBSCRIBE], normalise: normaliseKraken, idleTimeoutMs: 10_000 }, opts);
}
