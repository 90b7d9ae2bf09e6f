/**
 * Market data shared by ingest, quoter, resolver and realtime. Prices are integers of US cents
 * (BTC at $97,123.45 is 9_712_345): exact, comparable, and the same unit as the grid's bands.
 */
export interface Tick {
  /** Source name ('coinbase', 'binance', 'kraken', 'synthetic', ... or 'median' for the settlement series). */
  source: string;
  /** Price in integer US cents. */
  priceCents: number;
  /** Exchange event time, ms since epoch (the local receive time when the exchange gives none). */
  ts: number;
  /** Local receive time, ms since epoch: the clock the grid's windows and the breaker use. */
  recvTs: number;
}

/** What a price source emits: real price updates, link-only heartbeats, and connection status. */
export type FeedEvent =
  | { type: 'tick'; tick: Tick }
  | { type: 'heartbeat'; source: string; recvTs: number }
  | { type: 'status'; source: string; connected: boolean; detail?: string };

/** A pluggable price source. `start` begins emitting; `stop` closes it for good. */
export interface PriceSource {
  readonly name: string;
  start(onEvent: (e: FeedEvent) => void): void;
  stop(): Promise<void>;
}

/**
 * Parse a decimal price string ("97123.45", "97123.45000000") into integer cents, exactly.
 * Digits beyond cents are rounded half-up. Throws on anything that is not a positive decimal.
 */
export function priceToCents(text: string): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new Error(`not a price: ${JSON.stringify(text)}`);
  const frac = (m[2] ?? '').padEnd(3, '0');
  let cents = Number(m[1]) * 100 + Number(frac.slice(0, 2));
  if (Number(frac[2]) >= 5) cents += 1;
  if (!Number.isSafeInteger(cents) || cents <= 0) throw new Error(`price out of range: ${text}`);
  return cents;
}
