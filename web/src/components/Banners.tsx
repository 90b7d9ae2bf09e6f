import type { State } from '../state/store.js';

export function Banners({ state }: { state: State }) {
  const halted = state.quote?.halted || state.breaker?.state === 'open';
  return (
    <div class="banners" aria-live="assertive">
      {halted && state.quote && (
        <div class="banner banner-halt" role="alert" data-testid="breaker-banner">
          <strong>Trading halted: price feed stale.</strong> Taps are refused until fresh prices return; open bets whose window has a gap are refunded.
        </div>
      )}
      {state.connection === 'reconnecting' && (
        <div class="banner banner-conn" role="status" data-testid="reconnect-banner">
          Connection lost. Reconnecting… Taps you make now are still sent; their confirmations appear when the connection is back.
        </div>
      )}
    </div>
  );
}

export function Notices({ state }: { state: State }) {
  return (
    <div class="notices" role="log" aria-live="polite" aria-label="Messages">
      {state.notices.map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`} data-testid={`notice-${n.kind}`}>
          {n.text}
        </div>
      ))}
    </div>
  );
}
