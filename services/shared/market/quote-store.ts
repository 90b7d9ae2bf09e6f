/** Grid quotes in Redis: the current quote (one GET for the API), each quote by id (for bets). */
import type { GridCell } from '../pricing/grid.js';
import type { Redis } from '../redis.js';
import { quoteKeys } from '../redis-names.js';

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
  /** The breaker was open when the quote was made (breakerStateAt via readBreaker): every cell is disabled. */
  halted: boolean;
  cells: QuoteCell[];
}

export async function publishQuote(redis: Redis, q: Quote, opts: { keepMs: number; channel: string }): Promise<void> {
  const json = JSON.stringify(q);
  await redis.multi().set(quoteKeys.byId(q.id), json, 'PX', opts.keepMs).set(quoteKeys.current, json, 'PX', opts.keepMs).publish(opts.channel, json).exec();
}

export async function getQuote(redis: Redis, id: string): Promise<Quote | undefined> {
  const raw = await redis.get(quoteKeys.byId(id));
  return raw ? (JSON.parse(raw) as Quote) : undefined;
}

/**
 * The quote to show players, or undefined when there is none or the newest has expired (the
 * quoter stalled, or Redis came back with its last one): a grid no tap can use is not a grid.
 */
export async function currentQuote(redis: Redis, now: number): Promise<Quote | undefined> {
  const raw = await redis.get(quoteKeys.current);
  const quote = raw ? (JSON.parse(raw) as Quote) : undefined;
  return quote && now <= quote.expiresAt ? quote : undefined;
}
