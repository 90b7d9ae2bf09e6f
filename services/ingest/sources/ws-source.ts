/**
 * A generic reconnecting WebSocket price source. Exchange specifics (URL, subscribe frames,
 * normaliser) are plugged in by the per-exchange factories; this file owns the link's life cycle:
 * connect, subscribe, watch for silence, and reconnect with jittered exponential backoff.
 */
import WebSocket from 'ws';
import type { FeedEvent, PriceSource } from '../../shared/market/tick.js';
import type { Normaliser } from './normalise.js';
import { systemTimers, type TimerHandle, type Timers } from './timers.js';

/** Exponential backoff bounds: the ceiling doubles from `baseMs` per failed attempt, capped at `maxMs`. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry after a good link):
 * "full jitter", uniform in [0, min(maxMs, baseMs * 2^attempt)). Full jitter spreads the herd of
 * appliances that all lost the same exchange at the same moment.
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/**
 * The slice of a `ws` WebSocket the source uses, so unit tests can drive a fake socket. Events used:
 * open, message(data, isBinary), ping, pong, error(err), close(code, reason).
 */
export interface WsLike {
  // `any` matches ws's own listener typing, whose argument types vary per event name.
  on(event: string, listener: (...args: any[]) => void): unknown;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** Opens a socket to `url`; the default uses the `ws` package. */
export type WsConnect = (url: string) => WsLike;

/** Options of `createWsSource`. */
export interface WsSourceOptions {
  /** Source name, used in status events (ticks carry the name their normaliser gives). */
  name: string;
  url: string;
  /** Text frames sent, in order, each time the link opens. */
  subscribe?: readonly string[];
  normalise: Normaliser;
  backoff: Backoff;
  /** Reconnect when nothing at all (message, heartbeat, ping) arrives for this long, handshake included. */
  idleTimeoutMs: number;
  /** Clock for `recvTs`. */
  now: () => number;
  /** Uniform [0, 1) source for the backoff jitter. */
  random: () => number;
  timers?: Timers;
  /** Called with every raw text frame before normalising (the recorder's hook). */
  onRaw?: (raw: string, recvTs: number) => void;
  connect?: WsConnect;
  /** How long `stop` waits for a clean close before terminating the socket. */
  closeTimeoutMs?: number;
}

const defaultConnect: WsConnect = (url) => new WebSocket(url);

/**
 * Create a reconnecting WebSocket `PriceSource`. Emits a `status` event on every connect and every
 * disconnect (with the reason and the retry delay in `detail`); nothing is emitted after `stop`.
 */
export function createWsSource(opts: WsSourceOptions): PriceSource {
  const timers = opts.timers ?? systemTimers;
  const connect = opts.connect ?? defaultConnect;
  const subscribe = opts.subscribe ?? [];
  let emit: ((e: FeedEvent) => void) | undefined;
  let stopped = false;
  let socket: WsLike | undefined;
  let socketClosed: Promise<void> = Promise.resolve();
  let attempt = 0;
  let reconnectTimer: TimerHandle | undefined;
  let idleTimer: TimerHandle | undefined;

  const send = (e: FeedEvent): void => {
    if (!stopped) emit?.(e);
  };
  const status = (connected: boolean, detail?: string): void =>
    send({ type: 'status', source: opts.name, connected, ...(detail === undefined ? {} : { detail }) });
  const clearIdle = (): void => {
    if (idleTimer !== undefined) timers.clearTimeout(idleTimer);
    idleTimer = undefined;
  };

  const scheduleReconnect = (why: string): void => {
    const delay = backoffDelay(attempt, opts.backoff, opts.random);
    attempt++;
    status(false, `${why}; reconnecting in ${delay} ms`);
    reconnectTimer = timers.setTimeout(open, delay);
  };

  function open(): void {
    reconnectTimer = undefined;
    if (stopped) return;
    let ws: WsLike;
    try {
      ws = connect(opts.url);
    } catch (err) {
      scheduleReconnect(`connect failed: ${errText(err)}`);
      return;
    }
    socket = ws;
    let lastError: string | undefined;
    // Backoff resets only once the link has delivered real data: a server that accepts and then
    // drops us (or rejects the subscription) must keep backing off rather than be hammered.
    let proven = false;
    let markClosed = (): void => {};
    socketClosed = new Promise<void>((resolve) => (markClosed = resolve));

    const armIdle = (): void => {
      clearIdle();
      idleTimer = timers.setTimeout(() => {
        idleTimer = undefined;
        lastError = `nothing received for ${opts.idleTimeoutMs} ms`;
        ws.terminate();
      }, opts.idleTimeoutMs);
    };
    armIdle();

    ws.on('open', () => {
      if (socket !== ws) return;
      for (const frame of subscribe) ws.send(frame);
      status(true);
    });
    ws.on('message', (data: WebSocket.RawData) => {
      if (stopped || socket !== ws) return;
      const recvTs = opts.now();
      armIdle();
      const raw = rawText(data);
      opts.onRaw?.(raw, recvTs);
      let events: FeedEvent[];
      try {
        events = opts.normalise(raw, recvTs);
      } catch {
        events = []; // normalisers promise not to throw; a bug in one must not kill the link
      }
      for (const e of events) {
        if (!proven && (e.type === 'tick' || e.type === 'heartbeat')) {
          proven = true;
          attempt = 0;
        }
        send(e);
      }
    });
    // Protocol pings (Binance sends one every 20 s) prove the link is alive even when the market is quiet.
    ws.on('ping', () => socket === ws && armIdle());
    ws.on('pong', () => socket === ws && armIdle());
    ws.on('error', (err: unknown) => {
      lastError = errText(err);
    });
    ws.on('close', (code: number, reason: Buffer | string | undefined) => {
      markClosed();
      if (socket !== ws) return;
      socket = undefined;
      clearIdle();
      if (stopped) return;
      const why = lastError ?? `closed ${code}${reason && reason.length > 0 ? ` (${reason.toString()})` : ''}`;
      scheduleReconnect(why);
    });
  }

  return {
    name: opts.name,
    start(onEvent) {
      if (emit) throw new Error(`${opts.name}: source already started`);
      emit = onEvent;
      open();
    },
    async stop() {
      if (stopped) return socketClosed;
      stopped = true;
      if (reconnectTimer !== undefined) timers.clearTimeout(reconnectTimer);
      clearIdle();
      const ws = socket;
      if (!ws) return;
      const closed = socketClosed;
      ws.close(1000, 'stopping');
      // A peer that never answers the close handshake must not hold up shutdown.
      const force = timers.setTimeout(() => ws.terminate(), opts.closeTimeoutMs ?? 2_000);
      await closed;
      timers.clearTimeout(force);
    },
  };
}

/** Options shared by the per-exchange factories; everything defaults to production values. */
export interface ExchangeSourceOptions {
  /** Override the exchange URL (tests point this at a local server). */
  url?: string;
  backoff?: Backoff;
  idleTimeoutMs?: number;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
  onRaw?: (raw: string, recvTs: number) => void;
  connect?: WsConnect;
}

/** Production reconnect bounds: first retry within 1 s, never slower than every 30 s. */
export const DEFAULT_BACKOFF: Backoff = Object.freeze({ baseMs: 1_000, maxMs: 30_000 });

/** Build a `createWsSource` call for one exchange from factory options and the exchange's defaults. */
export function exchangeSource(
  exchange: { name: string; url: string; subscribe: readonly string[]; normalise: Normaliser; idleTimeoutMs: number },
  opts: ExchangeSourceOptions,
): PriceSource {
  return createWsSource({
    name: exchange.name,
    url: opts.url ?? exchange.url,
    subscribe: exchange.subscribe,
    normalise: exchange.normalise,
    backoff: opts.backoff ?? DEFAULT_BACKOFF,
    idleTimeoutMs: opts.idleTimeoutMs ?? exchange.idleTimeoutMs,
    now: opts.now ?? Date.now,
    random: opts.random ?? Math.random,
    ...(opts.timers ? { timers: opts.timers } : {}),
    ...(opts.onRaw ? { onRaw: opts.onRaw } : {}),
    ...(opts.connect ? { connect: opts.connect } : {}),
  });
}

function rawText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
