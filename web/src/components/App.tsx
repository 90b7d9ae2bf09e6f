/** The page: header (connection, balance, wallet), banners, the trade view, stake, bets. */
import { useEffect } from 'preact/hooks';
import type { Store } from '../state/store.js';
import { useStore } from '../state/use-store.js';
import { watchWallets } from '../wallet/wallets.js';
import { Banners, Notices } from './Banners.js';
import { BetList } from './BetList.js';
import { Header } from './Header.js';
import { SettlementView } from './SettlementView.js';
import { SignInPanel } from './SignInPanel.js';
import { StakeBar } from './StakeBar.js';
import { TradeView } from './TradeView.js';

export function App({ store }: { store: Store }) {
  const state = useStore(store);
  useEffect(() => {
    store.start();
    return watchWallets(store.setWallets);
  }, [store]);

  return (
    <div class="app">
      <Header store={store} state={state} />
      <Banners state={state} />
      <main class="layout">
        <section class="board" aria-label="Live BTC price and tap grid">
          <TradeView store={store} state={state} />
          <StakeBar store={store} state={state} />
        </section>
        <aside class="side">
          {!state.me && !state.checkingSession && <SignInPanel store={store} state={state} />}
          <BetList store={store} state={state} />
          <HowItWorks />
        </aside>
      </main>
      <Notices state={state} />
      {state.openBetId && <SettlementView store={store} state={state} id={state.openBetId} />}
    </div>
  );
}

function HowItWorks() {
  return (
    <details class="panel how">
      <summary>How it works</summary>
      <p>
        Each square is a price band over a time window. Tap one with your stake: if the BTC price touches the band at any moment during the window, you win the stake times the multiplier shown.
        Otherwise you lose the stake. Windows that start too soon are locked.
      </p>
      <p>Every bet opens a settlement view with the ticks of its window, so you can check each outcome yourself.</p>
    </details>
  );
}
