import { formatMoney, shortAddress } from '../lib/format.js';
import type { State, Store } from '../state/store.js';

const CONNECTION = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…' } as const;

export function Header({ store, state }: { store: Store; state: State }) {
  const { me, config, connection } = state;
  const currency = me?.currency ?? config?.currency ?? { code: 'USD', decimals: 2 };
  return (
    <header class="top">
      <div class="brand">
        <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
          <rect width="32" height="32" rx="7" fill="#151b27" />
          <path d="M5 22l6-6 5 4 10-11" fill="none" stroke="#f7b731" stroke-width="3" stroke-linecap="round" stroke-linejoin="round" />
          <rect x="19" y="17" width="8" height="8" rx="2" fill="#21d07a" />
        </svg>
        <span class="brand-name">Tapstack</span>
        <span class="pair">BTC / USD</span>
      </div>
      <div class={`conn conn-${connection}`} role="status" aria-live="polite">
        <span class="dot" aria-hidden="true" />
        {CONNECTION[connection]}
      </div>
      {me ? (
        <div class="account">
          <div class="balance" aria-label="Balance">
            <span class="balance-main" data-testid="available">{formatMoney(me.available ?? me.balance, currency)}</span>
            <span class="balance-sub">
              available · book <span data-testid="balance">{formatMoney(me.balance, currency)}</span>
            </span>
          </div>
          <span class="addr" title={me.address}>
            {shortAddress(me.address)}
          </span>
          <button type="button" class="btn ghost" onClick={() => void store.signOut()}>
            Sign out
          </button>
        </div>
      ) : (
        <div class="account">{state.checkingSession ? null : <span class="muted">Not signed in</span>}</div>
      )}
    </header>
  );
}
