import type { State, Store } from '../state/store.js';
import { formatMoney } from '../lib/format.js';

export function SignInPanel({ store, state }: { store: Store; state: State }) {
  const { wallets, config, signingIn } = state;
  return (
    <section class="panel signin" aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in to tap</h2>
      {wallets.length > 0 ? (
        <>
          <p class="muted">Choose your wallet. You sign a message; no transaction, no gas.</p>
          <ul class="wallets">
            {wallets.map((w) => (
              <li key={w.id}>
                <button type="button" class="btn wallet" disabled={signingIn} onClick={() => void store.signInWallet(w)}>
                  {w.icon && <img src={w.icon} alt="" width={24} height={24} />}
                  <span>Sign in with {w.name}</span>
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p class="muted">No wallet found in this browser. Install an Ethereum wallet to play with real funds.</p>
      )}
      {config?.demoMode && (
        <div class="demo">
          <button type="button" class="btn demo-btn" disabled={signingIn} onClick={() => void store.signInDemo()}>
            Use a demo wallet
          </button>
          <p class="warn" data-testid="demo-warning">
            Demo money only ({formatMoney(config.demoGrant, config.currency)} to start). The demo wallet is a throwaway key kept in this tab; closing the tab loses it. Never send real funds to it.
          </p>
        </div>
      )}
      {signingIn && <p role="status">Waiting for your signature…</p>}
    </section>
  );
}
