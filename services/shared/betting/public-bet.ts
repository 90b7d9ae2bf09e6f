/** A bet as its player sees it: one view for the API, the writer's events and the realtime service. */
import type { BetRow } from '../repos/bets.repo.js';
import type { BetCommand } from './commands.js';

export interface PublicBet {
  id: string;
  state: 'pending' | BetRow['state'];
  quoteId: string;
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
}

export const publicBet = (b: BetRow): PublicBet => ({
  id: b.id,
  state: b.state,
  quoteId: b.quoteId,
  lowCents: b.lowCents,
  highCents: b.highCents,
  startMs: b.startMs,
  endMs: b.endMs,
  stake: b.stake,
  multiplierCents: b.multiplierCents,
  payout: b.payout,
  reason: b.reason,
  placedAt: b.placedAt,
  committedAt: b.committedAt,
  settledAt: b.settledAt,
});

/** A bet accepted (202) and queued, not yet committed by the writer. */
export const pendingBet = (c: BetCommand): PublicBet => ({
  id: c.id,
  state: 'pending',
  quoteId: c.quoteId,
  lowCents: c.lowCents,
  highCents: c.highCents,
  startMs: c.startMs,
  endMs: c.endMs,
  stake: c.stake,
  multiplierCents: c.multiplierCents,
  payout: 0,
  reason: null,
  placedAt: c.placedAt,
  committedAt: null,
  settledAt: null,
});
