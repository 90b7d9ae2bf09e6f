/**
 * Binance spot trade stream for BTCUSDT. The stream is chosen by URL, so there is no subscribe
 * frame; `T` (trade time) is the exchange time. Binance caps a link at 24 h and pings every 20 s.
 */
import type { FeedEvent, PriceSource } from '../../shared/market/tick.js';
import { centsOf, epochMsOr, isRecord, parseJsonObject } from './normalise.js';
import { exchangeSource, type ExchangeSourceOptions } from './ws-source.js';

/** Raw trade stream for BTCUSDT. */
export const BINANCE_URL = 'wss://stream.binance.com:9443/ws/btcusdt@trade';
const SYMBOL = 'BTCUSDT';

/**
 * Normalise one Binance frame: a BTCUSDT `trade` event becomes a tick; a request error becomes a
 * status event; acks (`{"result":null,"id":1}`), other symbols and malformed frames nothing.
 * Combined-stream envelopes (`{stream, data}`) are unwrapped so either URL style works.
 */
export function normaliseBinance(raw: string, recvTs: number): FeedEvent[] {
  let m = parseJsonObject(raw);
  if (m && typeof m.stream === 'string' && isRecord(m.data)) m = m.data;
  if (!m) return [];
  if (isRecord(m.error)) {
    return [{ type: 'status', source: 'binance', connected: true, detail: `exchange error: ${JSON.stringify(m.error)}` }];
  }
  if (m.e !== 'trade' || m.s !== SYMBOL) return [];
  const priceCents = centsOf(m.p);
  if (priceCents === undefined) return [];
  return [{ type: 'tick', tick: { source: 'binance', priceCents, ts: epochMsOr(m.T, recvTs), recvTs } }];
}

/**
 * The live Binance source. Server pings (every 20 s) count as activity, so the idle timeout sits
 * above that period.
 */
export function binanceSource(opts: ExchangeSourceOptions = {}): PriceSource {
  return exchangeSource({ name: 'binance', url: BINANCE_URL, subscribe: [], normalise: normaliseBinance, idleTimeoutMs: 30_000 }, opts);
}
