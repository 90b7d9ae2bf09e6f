/**
 * The one store: applies server answers and events to the state the components render. Prices
 * go into a ring buffer the chart reads every frame (not into the rendered state: 4-10 ticks a
 * second must not re-render the page); everything else is immutable state with subscribers.
 */
import { api, ApiError, connectRealtime, type Realtime, type Snapshot } from '../api/client.js';
import { sentenceFor } from '../lib/messages.js';
import { formatMoney, formatUnits } from '../lib/format.js';
import type { Breaker, ClientConfig, Me, PublicBet, Quote, QuoteCell, Tick } from '../lib/types.js';
import { acceptOptimistic, addOptimistic, applyBet, applyBets, emptyBook, refuseOptimistic, type BetBook } from './bets.js';
import { injectedSigner, signIn, type Signer, type WalletOption } from '../wallet/wallets.js';

export type Connection = 'connecting' | 'live' | 'reconnecting';

export interface Notice {
  id: number;
  kind: 'error' | 'info' | 'win' | 'loss';
  text: string;
}

export interface State {
  config: ClientConfig | null;
  me: Me | null;
  /** True until the first /api/me answer: do not flash "sign in" to a signed-in player. */
  checkingSession: boolean;
  signingIn: boolean;
  wallets: WalletOption[];
  connection: Connection;
  quote: Quote | null;
  breaker: Breaker | null;
  book: BetBook;
  /** Stake in minor units. */
  stake: number;
  paused: boolean;
  notices: Notice[];
  history: { loading: boolean; hasMore: boolean; oldest: number | undefined };
  /** Bet whose settlement view is open. */
  openBetId: string | null;
}

const HISTORY_PAGE = 20;
const PRICE_KEEP_MS = 10 * 60_000;

export function createStore() {
  let state: State = {
    config: null,
    me: null,
    checkingSession: true,
    signingIn: false,
    wallets: [],
    connection: 'connecting',
    quote: null,
    breaker: null,
    book: emptyBook(),
    stake: 100,
    paused: typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches,
    notices: [],
    history: { loading: false, hasMore: true, oldest: undefined },
    openBetId: null,
  };
  const listeners = new Set<() => void>();
  const set = (patch: Partial<State>) => {
    state = { ...state, ...patch };
    for (const l of listeners) l();
  };

  /** Price series for the chart (time order), and server − local clock offset. */
  const prices: Tick[] = [];
  const clock = { offsetMs: 0 };
  const pushPrice = (t: Tick) => {
    const last = prices[prices.length - 1];
    if (last && t.ts < last.ts) return;
    prices.push(t);
    const cut = t.ts - PRICE_KEEP_MS;
    let drop = 0;
    while (drop < prices.length && (prices[drop] as Tick).ts < cut) drop++;
    if (drop > 256) prices.splice(0, drop);
  };

  let noticeId = 0;
  const notify = (kind: Notice['kind'], text: string, ttlMs = 6000) => {
    const n = { id: ++noticeId, kind, text };
    set({ notices: [...state.notices.slice(-3), n] });
    setTimeout(() => set({ notices: state.notices.filter((x) => x.id !== n.id) }), ttlMs);
  };
  const sentence = (err: unknown): string => {
    if (err instanceof ApiError) {
      const base = sentenceFor(err.code, err.message);
      if (err.code === 'stake-out-of-limits' && state.config) {
        const c = state.config.currency;
        return `${base} Stake between ${formatMoney(state.config.stake.min, c)} and ${formatMoney(state.config.stake.max, c)}.`;
      }
      return base;
    }
    return sentenceFor('internal');
  };

  let meTimer: ReturnType<typeof setTimeout> | undefined;
  const refreshMe = (delayMs = 0) => {
    clearTimeout(meTimer);
    meTimer = setTimeout(async () => {
      try {
        const { body } = await api<Me>('GET', '/api/me');
        set({ me: body, checkingSession: false });
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 404)) set({ me: null, checkingSession: false });
        else set({ checkingSession: false });
      }
    }, delayMs);
  };

  const loadHistory = async (reset = false) => {
    if (!state.me || state.history.loading) return;
    const before = reset ? undefined : state.history.oldest;
    set({ history: { ...state.history, loading: true } });
    try {
      const q = new URLSearchParams({ limit: String(HISTORY_PAGE), ...(before !== undefined ? { before: String(before) } : {}) });
      const { body } = await api<{ bets: PublicBet[] }>('GET', `/api/me/bets?${q}`);
      const oldest = body.bets.length ? Math.min(...body.bets.map((b) => b.placedAt)) : before;
      set({ book: applyBets(state.book, body.bets), history: { loading: false, hasMore: body.bets.length === HISTORY_PAGE, oldest: reset ? oldest : Math.min(oldest ?? Infinity, state.history.oldest ?? Infinity) } });
    } catch {
      set({ history: { ...state.history, loading: false } });
    }
  };

  /** After a (re)connect: bets still queued, recent committed bets, the balance. */
  const resyncBets = async () => {
    if (!state.me) return;
    try {
      // Queued bets (the lead's exactly-once work adds this list; an older server ignores `state`
      // or refuses it, and the committed list below still brings every committed bet).
      const { body } = await api<{ bets: PublicBet[] }>('GET', '/api/me/bets?state=pending');
      set({ book: applyBets(state.book, body.bets) });
    } catch {
      /* not there yet */
    }
    await loadHistory(true);
    refreshMe();
  };

  const onBet = (event: string, bet: PublicBet) => {
    if (!bet || typeof bet.id !== 'string') return;
    const before = state.book.byId.get(bet.id);
    const book = applyBet(state.book, bet);
    if (book === state.book) return;
    set({ book });
    const after = book.byId.get(bet.id);
    if (!after || before?.state === after.state) return;
    const c = state.config?.currency ?? { code: 'USD', decimals: 2 };
    if (after.state === 'won') notify('win', `Won ${formatMoney(after.payout, c)} at ${formatUnits(after.multiplierCents, 2)}×`);
    else if (after.state === 'lost') notify('loss', `Lost ${formatMoney(after.stake, c)}: the price did not touch the band.`);
    else if (after.state === 'void') notify('info', `Refunded ${formatMoney(after.stake, c)}: ${sentenceFor(after.reason ?? 'feed-gap')}`);
    else if (after.state === 'rejected') notify('error', `Tap rejected: ${sentenceFor(after.reason ?? 'internal')}`);
    if (event !== 'bet:confirmed' || after.state !== 'open') refreshMe(150);
  };

  let realtime: Realtime | undefined;
  const start = () => {
    void api<ClientConfig>('GET', '/api/client')
      .then(({ body }) => set({ config: body, stake: Math.min(Math.max(state.stake, body.stake.min), body.stake.max) }))
      .catch(() => undefined);
    refreshMe();
    // The first grid comes from HTTP (no wait for the socket handshake); the socket takes over.
    void api<{ serverTime: number; quote: Quote }>('GET', '/api/grid')
      .then(({ body }) => {
        clock.offsetMs = body.serverTime - Date.now();
        if (!state.quote || body.quote.version > state.quote.version) set({ quote: body.quote });
      })
      .catch(() => undefined);
    realtime = connectRealtime({
      onStatus: (connection) => {
        if (connection !== state.connection) set({ connection });
      },
      onSnapshot: (s: Snapshot, offset) => {
        if (offset !== undefined) clock.offsetMs = offset;
        // The snapshot's recent prices fill any gap left while disconnected: merge by time.
        if (s.prices?.length) {
          const byTs = new Map<number, Tick>();
          for (const t of [...prices, ...s.prices]) byTs.set(t.ts, t);
          prices.splice(0, prices.length, ...[...byTs.values()].sort((a, b) => a.ts - b.ts));
        }
        set({ ...(s.quote && (!state.quote || s.quote.version >= state.quote.version) ? { quote: s.quote } : {}), ...(s.breaker ? { breaker: s.breaker } : {}) });
        void resyncBets();
      },
      onPrice: pushPrice,
      onQuote: (q) => {
        if (!state.quote || q.version > state.quote.version) set({ quote: q });
      },
      onBreaker: (b) => set({ breaker: b }),
      onBet,
      onBets: (bets) => {
        const book = applyBets(state.book, bets.filter((b) => b && typeof b.id === 'string'));
        if (book !== state.book) set({ book });
      },
    });
  };

  /** Place a bet on a cell: pending at once, the request retried through a dropped connection. */
  const tap = async (cell: QuoteCell) => {
    const { quote, config, me } = state;
    if (!quote || !config) return;
    if (!me) return notify('error', sentenceFor('not-signed-in'));
    if (quote.halted) return notify('error', sentenceFor('breaker-open'));
    if (cell.locked) return notify('error', sentenceFor('cell-locked'));
    if (cell.disabled) return notify('error', sentenceFor('cell-disabled'));
    const stake = state.stake;
    const key = `tap-${crypto.randomUUID()}`;
    performance.mark(`tapstack:tap:${key}`);
    set({ book: addOptimistic(state.book, key, { lowCents: cell.lowCents, highCents: cell.highCents, startMs: cell.startMs, endMs: cell.endMs, stake, multiplierCents: cell.multiplierCents, placedAt: Date.now() + clock.offsetMs }, cell.probability) });
    const body = { quoteId: quote.id, row: cell.row, col: cell.col, stake };
    for (let attempt = 0; ; attempt++) {
      try {
        const { body: res } = await api<{ bet: PublicBet; available?: number }>('POST', '/api/bets', body, { 'idempotency-key': key });
        set({ book: acceptOptimistic(state.book, key, res.bet), ...(state.me && typeof res.available === 'number' ? { me: { ...state.me, available: res.available } } : {}) });
        return;
      } catch (err) {
        const e = err as ApiError;
        // Retry what may not have reached the server (network) or was refused for now (503 with
        // a retry hint), with the same Idempotency-Key: the server answers a replay, never twice.
        const retryable = e.code === 'network' || e.code === 'balance-loading' || e.code === 'unavailable' || e.code === 'capacity' || (e.status >= 502 && e.status <= 504 && e.code !== 'breaker-open');
        if (retryable && attempt < 6 && Date.now() + clock.offsetMs < cell.startMs) {
          const backoff = Math.min(4000, (e.retryAfterSeconds ?? 0) * 1000 || 250 * 2 ** attempt);
          await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random())));
          continue;
        }
        set({ book: refuseOptimistic(state.book, key, e.code ?? 'internal') });
        notify('error', sentence(err));
        if (e.code === 'insufficient-funds') refreshMe();
        return;
      }
    }
  };

  const signInWith = async (signer: Signer) => {
    set({ signingIn: true });
    try {
      const me = await signIn(signer);
      set({ me, signingIn: false, book: emptyBook(), history: { loading: false, hasMore: true, oldest: undefined } });
      realtime?.restart();
      refreshMe();
    } catch (err) {
      set({ signingIn: false });
      notify('error', sentence(err), 8000);
    }
  };

  return {
    get: () => state,
    subscribe(l: () => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    prices,
    clock,
    now: () => Date.now() + clock.offsetMs,
    start,
    tap,
    setWallets: (wallets: WalletOption[]) => set({ wallets }),
    signInWallet: (w: WalletOption) => signInWith(injectedSigner(w.provider)),
    signInDemo: async () => {
      const { demoSigner } = await import('../wallet/demo.js');
      await signInWith(demoSigner());
    },
    signOut: async () => {
      await api('POST', '/api/auth/logout', {}).catch(() => undefined);
      set({ me: null, book: emptyBook(), openBetId: null });
      realtime?.restart();
    },
    setStake: (stake: number) => set({ stake }),
    togglePause: () => set({ paused: !state.paused }),
    loadMore: () => loadHistory(false),
    openBet: (id: string | null) => set({ openBetId: id }),
    notify,
  };
}

export type Store = ReturnType<typeof createStore>;
