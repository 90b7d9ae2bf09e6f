/** The server's shapes as the README documents them (the contract); fields the app reads. */
export type BetState = 'pending' | 'open' | 'rejected' | 'won' | 'lost' | 'void';

export interface PublicBet {
  id: string;
  state: BetState;
  quoteId?: string;
  lowCents: number;
  highCents: number;
  startMs: number;
  endMs: number;
  stake: number;
  multiplierCents: number;
  payout: number;
  reason: string | null;
  placedAt: number;
  committedAt: number | null;
  settledAt: number | null;
  eventId?: string;
}

export interface QuoteCell {
  row: number;
  col: number;
  lowCents: number;
  highCents: number;
  startMs: number;
  endMs: number;
  probability: number;
  multiplierCents: number;
  disabled: boolean;
  locked: boolean;
  reason?: string;
}

export interface Quote {
  id: string;
  version: number;
  createdAt: number;
  expiresAt: number;
  spotCents: number;
  spotTs: number;
  sigma: number;
  edge: number;
  monitoringDt: number;
  multiplier: { minCents: number; maxCents: number };
  geometry: { rows: number; rowHeightCents: number; columns: number; columnSeconds: number; lockSeconds: number };
  halted: boolean;
  cells: QuoteCell[];
}

export interface Tick {
  priceCents: number;
  ts: number;
}

export interface Breaker {
  state: 'open' | 'closed';
  changedAt: number;
  stalenessSeconds?: number | null;
}

export interface ClientConfig {
  currency: { code: string; decimals: number };
  stake: { min: number; max: number };
  chainIds: number[];
  demoMode: boolean;
  demoGrant: number;
}

export interface Me {
  address: string;
  balance: number;
  available: number | null;
  currency: { code: string; decimals: number };
}

export interface ApiErrorBody {
  code: string;
  message: string;
  [k: string]: unknown;
}
