/**
 * Small, total helpers shared by the exchange normalisers: each returns `undefined` instead of
 * throwing, because a normaliser must turn any input at all into zero or more events.
 */
import { priceToCents, type FeedEvent } from '../../shared/market/tick.js';

/** A pure exchange-message normaliser: one raw WebSocket text frame in, zero or more events out. Never throws. */
export type Normaliser = (raw: string, recvTs: number) => FeedEvent[];

/** Parse `raw` as a JSON object; anything else (bad JSON, arrays, scalars) is `undefined`. */
export function parseJsonObject(raw: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return isRecord(v) ? v : undefined;
}

/** True for plain JSON objects (not arrays, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A price given as a decimal string (Coinbase, Binance) or a JSON number (Kraken v2) in integer
 * cents, or `undefined` when it is not a positive decimal.
 */
export function centsOf(v: unknown): number | undefined {
  let text: string;
  if (typeof v === 'string') text = v;
  else if (typeof v === 'number' && Number.isFinite(v)) text = String(v); // shortest round-trip form, i.e. the wire digits
  else return undefined;
  try {
    return priceToCents(text);
  } catch {
    return undefined;
  }
}

/** An RFC 3339 time string as ms since epoch, or `fallback` when absent or unparseable. */
export function isoTimeOr(v: unknown, fallback: number): number {
  if (typeof v !== 'string') return fallback;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : fallback;
}

/** A positive integer epoch-ms field, or `fallback`. */
export function epochMsOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : fallback;
}
