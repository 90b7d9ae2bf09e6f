/**
 * Quotes by id, parsed once: a quote is immutable, so the API keeps the recent ones in memory and
 * reads Redis only for an id it has not seen (a few per second at most).
 */
import { getQuote, type Quote, type QuoteCell } from '../shared/market/quote-store.js';
import type { Redis } from '../shared/redis.js';

export interface CachedQuote {
  quote: Quote;
  cells: Map<string, QuoteCell>;
}

export function createQuoteCache(redis: Redis, size = 64) {
  const cache = new Map<string, CachedQuote>();
  // An id is unique only while Redis keeps its counter: one that restarted without its last
  // writes (a crash under appendfsync everysec) hands out recent ids again, for new quotes. Every
  // such restart drops this connection, so what was cached before it is forgotten.
  redis.on('ready', () => cache.clear());
  return {
    async get(id: string): Promise<CachedQuote | undefined> {
      const hit = cache.get(id);
      if (hit) return hit;
      const quote = await getQuote(redis, id);
      if (!quote) return undefined;
      const entry = { quote, cells: new Map(quote.cells.map((c) => [`${c.row}:${c.col}`, c])) };
      cache.set(id, entry);
      // Map iteration order is insertion order: drop the oldest.
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
      return entry;
    },
  };
}
