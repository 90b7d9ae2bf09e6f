/**
 * The player's bets as the screen shows them, built from whatever arrives in whatever order: the
 * optimistic tap, the 202, socket events (possibly repeated, possibly out of order), history pages
 * and resyncs. The server's state machine is monotone (pending → open | rejected → won | lost |
 * void), so each bet keeps the most advanced state it has been told; a repeat or a late, older
 * event changes nothing. Pure functions over an immutable book.
 */
import type { BetState, PublicBet } from '../lib/types.js';

const RANK: Record<BetState, number> = { pending: 0, open: 1, rejected: 1, won: 2, lost: 2, void: 2 };

export const isFinal = (s: BetState) => RANK[s] === 2 || s === 'rejected';

/** A bet on screen: the server's view plus what only this tab knows. */
export interface BetEntry extends PublicBet {
  /** Idempotency-Key of a tap made here (also the temporary id until the 202 names the bet). */
  localKey?: string;
  /** True until the server has answered the tap (the tile is optimistic). */
  sending?: boolean;
  /** Set when the server refused the tap outright (never queued). */
  refusedCode?: string;
  /** Touch probability of the cell when tapped here (for the settlement view). */
  probability?: number;
}

export interface BetBook {
  /** id → entry; optimistic taps are keyed `local:<key>` until the 202. */
  byId: ReadonlyMap<string, BetEntry>;
  /** Idempotency-Key → server id, once known. */
  keys: ReadonlyMap<string, string>;
}

export const emptyBook = (): BetBook => ({ byId: new Map(), keys: new Map() });

/** Should `next` replace what we show for a bet currently in `prev`? Only if it is further on. */
export function advances(prev: BetState, next: BetState): boolean {
  return RANK[next] > RANK[prev];
}

function merge(prev: BetEntry | undefined, next: BetEntry): BetEntry {
  if (!prev) return next;
  if (advances(prev.state, next.state)) return { ...prev, ...next, localKey: prev.localKey ?? next.localKey, probability: prev.probability ?? next.probability, sending: false };
  // Same or older state: a repeat or a late event. Keep what we have, but learn missing facts.
  if (prev.sending && !next.sending) return { ...prev, sending: false, committedAt: prev.committedAt ?? next.committedAt };
  return prev;
}

/** Apply one server view of a bet (event, 202, history row, resync). Returns the same book if nothing changed. */
export function applyBet(book: BetBook, bet: PublicBet): BetBook {
  const prev = book.byId.get(bet.id);
  const next = merge(prev, { ...bet });
  if (next === prev) return book;
  const byId = new Map(book.byId);
  byId.set(bet.id, next);
  return { ...book, byId };
}

export function applyBets(book: BetBook, bets: readonly PublicBet[]): BetBook {
  return bets.reduce(applyBet, book);
}

/** The optimistic tile, shown before the request leaves. */
export function addOptimistic(book: BetBook, key: string, bet: Omit<PublicBet, 'id' | 'state' | 'payout' | 'reason' | 'committedAt' | 'settledAt'>, probability?: number): BetBook {
  const byId = new Map(book.byId);
  byId.set(`local:${key}`, { ...bet, id: `local:${key}`, state: 'pending', payout: 0, reason: null, committedAt: null, settledAt: null, localKey: key, sending: true, ...(probability !== undefined ? { probability } : {}) });
  return { ...book, byId };
}

/**
 * The server accepted (202) the tap made with `key`: the optimistic tile becomes the bet `bet.id`.
 * An event for that id may already have arrived (the socket can beat the HTTP answer): the more
 * advanced state wins, and there is still exactly one entry.
 */
export function acceptOptimistic(book: BetBook, key: string, bet: PublicBet): BetBook {
  const local = book.byId.get(`local:${key}`);
  const byId = new Map(book.byId);
  byId.delete(`local:${key}`);
  const keys = new Map(book.keys);
  keys.set(key, bet.id);
  const base: BetEntry | undefined = local ? { ...local, ...bet, sending: false, localKey: key } : undefined;
  const existing = byId.get(bet.id);
  const merged = existing ? merge(base ? { ...existing, localKey: key, probability: existing.probability ?? local?.probability } : existing, { ...bet, sending: false }) : (base ?? { ...bet, localKey: key });
  byId.set(bet.id, { ...merged, sending: false, localKey: key });
  return { byId, keys };
}

/** The server refused the tap outright: the tile shows the refusal and stays in the list. */
export function refuseOptimistic(book: BetBook, key: string, code: string): BetBook {
  const local = book.byId.get(`local:${key}`);
  if (!local) return book;
  const byId = new Map(book.byId);
  byId.set(local.id, { ...local, state: 'rejected', reason: code, refusedCode: code, sending: false, settledAt: Date.now() });
  return { ...book, byId };
}

/** Newest first (by placement time, then id), as the bet list shows them. */
export function listBets(book: BetBook): BetEntry[] {
  return [...book.byId.values()].sort((a, b) => b.placedAt - a.placedAt || (a.id < b.id ? 1 : -1));
}

/** The bet(s) on one grid cell, for drawing its tile. Key: `${lowCents}:${startMs}`. */
export function betsByCell(book: BetBook): Map<string, BetEntry[]> {
  const out = new Map<string, BetEntry[]>();
  for (const b of book.byId.values()) {
    const k = `${b.lowCents}:${b.startMs}`;
    const list = out.get(k);
    if (list) list.push(b);
    else out.set(k, [b]);
  }
  return out;
}
