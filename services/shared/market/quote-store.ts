/** Grid quotes in Redis: the current quote (one GET for the API), each quote by id (for bets). */
import type { GridCell } from '../pricing/grid.js';
import type { Redis } from '../redis.js';

export const CURRENT_QUOTE_KEY = 'quote:current';
export const quoteKey = (id: string) => `quote:${id}`;
export const QUOTE_VERSION_KEY = 'quote:version';

/** A cell as published: the pricing library's cell, or disabled with 'breaker-open' while halted. */
export type QuoteCell = Omit<GridCell, 'reason'> & { reason?: GridCell['reason'] | 'breaker-open' };

export interface Quote {
  id: string;
  version: number;
  createdAt: number;
  expiresAt: number;
  spotCents: number;
  spotTs: number;
  /** Volatility per √second used for every cell. */
  sigma: number;
  edge: number;
  /** Settlement monitoring interval (s) the probabilities are corrected for (BGK); 0 = continuous. */
  monitoringDt: number;
  multiplier: { minCents: number; maxCents: number };
  geometry: { rows: number; rowHeightCents: number; columns: number; columnSeconds: number; lockSeconds: number };
  /** True while the breaker is open: every cell is disabled. */
  halted: boolean;
  cells: QuoteCell[];
}

export async function publishQuote(redis: Redis, q: Quote, opts: { keepMs: number; channel: string }): Promise<void> {
  const json = JSON.stringify(q);
  await redis.multi().set(quoteKey(q.id), json, 'PX', opts.keepMs).set(CURRENT_QUOTE_KEY, json, 'PX', opts.keepMs).publish(opts.channel, json).exec();
}

export async function getQuote(redis: Redis, id: string): Promise<Quote | undefined> {
  const raw = await redis.get(quoteKey(id));
  return raw ? (JSON.parse(raw) as Quote) : undefined;
}

export async function currentQuote(redis: Redis): Promise<Quote | undefined> {
  const raw = await redis.get(CURRENT_QUOTE_KEY);
  return raw ? (JSON.parse(raw) as Quote) : undefined;
}
