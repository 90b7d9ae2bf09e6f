import { formatClock, formatMoney, formatMultiplier, formatPrice } from '../lib/format.js';
import { sentenceFor } from '../lib/messages.js';
import { listBets, type BetEntry } from '../state/bets.js';
import type { State, Store } from '../state/store.js';

const STATE_LABEL: Record<BetEntry['state'], string> = { pending: 'Pending', open: 'Confirmed', rejected: 'Rejected', won: 'Won', lost: 'Lost', void: 'Refunded' };

export function BetList({ store, state }: { store: Store; state: State }) {
  if (!state.me) return null;
  const bets = listBets(state.book);
  const currency = state.me.currency;
  return (
    <section class="panel bets" aria-labelledby="bets-title">
      <h2 id="bets-title">Your bets</h2>
      {bets.length === 0 ? (
        <p class="muted">No bets yet. Pick a stake and tap a square on the grid.</p>
      ) : (
        <ul class="bet-list" data-testid="bet-list">
          {bets.map((b) => (
            <li key={b.id} data-bet-id={b.id} data-state={b.state} class={`bet bet-${b.state}`}>
              <button type="button" class="bet-row" disabled={b.id.startsWith('local:')} onClick={() => store.openBet(b.id)} title="Open the settlement view">
                <span class={`pill pill-${b.state}`}>{STATE_LABEL[b.state]}</span>
                <span class="bet-main">
                  {formatMoney(b.stake, currency)} at {formatMultiplier(b.multiplierCents)}
                  <span class="muted small">
                    {' '}
                    {formatPrice(b.lowCents, true)}–{formatPrice(b.highCents, true)} · {formatClock(b.startMs)}
                  </span>
                </span>
                <span class="bet-result">{b.state === 'won' ? `+${formatMoney(b.payout, currency)}` : b.state === 'lost' ? `−${formatMoney(b.stake, currency)}` : b.state === 'void' ? 'refund' : ''}</span>
              </button>
              {b.state === 'rejected' && <p class="small reason">{sentenceFor(b.reason ?? 'internal')}</p>}
            </li>
          ))}
        </ul>
      )}
      {state.history.hasMore && bets.length > 0 && (
        <button type="button" class="btn ghost small" disabled={state.history.loading} onClick={() => void store.loadMore()}>
          {state.history.loading ? 'Loading…' : 'Older bets'}
        </button>
      )}
    </section>
  );
}
