/**
 * The one API/realtime client: JSON over fetch to /api (the session is the HttpOnly cookie, never
 * readable here) and socket.io to /socket.io for prices, quotes, the breaker and this player's bet
 * events. socket.io reconnects with exponential backoff and jitter (randomizationFactor); every
 * (re)connect hands the store a fresh snapshot so it can resync.
 */
import { io, type Socket } from 'socket.io-client';
import type { ApiErrorBody, Breaker, PublicBet, Quote, Tick } from '../lib/types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export interface ApiResult<T> {
  status: number;
  body: T;
}

/** One request; throws ApiError with the server's code (or 'network' when nothing came back). */
export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new ApiError(0, 'network', (err as Error).message);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed as { error?: ApiErrorBody } | undefined)?.error;
    const retry = Number(res.headers.get('retry-after'));
    const { code, message, ...details } = e ?? { code: res.status >= 500 ? 'unavailable' : 'internal', message: res.statusText };
    throw new ApiError(res.status, code, message, details, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return { status: res.status, body: parsed as T };
}

export interface Snapshot {
  quote: Quote | null;
  breaker: Breaker | null;
  prices: Tick[];
}

export interface RealtimeHandlers {
  onStatus(status: 'connecting' | 'live' | 'reconnecting', detail?: string): void;
  onSnapshot(s: Snapshot, serverOffsetMs: number | undefined): void;
  onPrice(t: Tick): void;
  onQuote(q: Quote): void;
  onBreaker(b: Breaker): void;
  onBet(event: 'bet:confirmed' | 'bet:rejected' | 'bet:settled', bet: PublicBet): void;
  /** `bets:sync` on (re)connect: the player's queued bets and recent committed ones. */
  onBets(bets: PublicBet[]): void;
}

type Envelope<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

export interface Realtime {
  /** Reconnect (after sign-in or sign-out the handshake must carry the new cookie). */
  restart(): void;
  close(): void;
}

export function connectRealtime(h: RealtimeHandlers): Realtime {
  const socket: Socket = io({
    path: '/socket.io',
    transports: ['websocket'],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 8000,
    randomizationFactor: 0.5,
    timeout: 8000,
    withCredentials: true,
  });
  const call = <T>(name: string, payload: object): Promise<T> =>
    new Promise((resolve, reject) => {
      socket.timeout(5000).emit(name, payload, (err: Error | null, env: Envelope<T>) => {
        if (err) reject(err);
        else if (env?.ok) resolve(env.data);
        else reject(new Error(env?.error?.code ?? 'bad-envelope'));
      });
    });

  /** Clock offset to the server (server − local, ms) from the ping with the shortest round trip. */
  const measureOffset = async (): Promise<number | undefined> => {
    let best: { rtt: number; offset: number } | undefined;
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const { now } = await call<{ now: number }>('ping', {});
      const t1 = Date.now();
      if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: now - (t0 + t1) / 2 };
    }
    return best?.offset;
  };

  socket.on('connect', () => {
    h.onStatus('live');
    void (async () => {
      try {
        const [snap, offset] = await Promise.all([call<Snapshot>('snapshot', {}), measureOffset().catch(() => undefined)]);
        h.onSnapshot(snap, offset);
      } catch {
        /* the next connect resyncs */
      }
    })();
  });
  socket.on('disconnect', (reason) => h.onStatus(reason === 'io client disconnect' ? 'connecting' : 'reconnecting', reason));
  socket.on('connect_error', (err) => h.onStatus('reconnecting', err.message));
  socket.on('price', (t: Tick) => {
    performance.mark('tapstack:event:price');
    h.onPrice(t);
  });
  socket.on('quote', (q: Quote) => h.onQuote(q));
  socket.on('breaker', (b: Breaker) => h.onBreaker(b));
  for (const name of ['bet:confirmed', 'bet:rejected', 'bet:settled'] as const) {
    socket.on(name, (bet: PublicBet) => {
      // For the e2e figures: event received → painted.
      performance.mark(`tapstack:event:${name}:${bet?.id}`);
      h.onBet(name, bet);
    });
  }
  socket.on('bets:sync', (d: { pending?: PublicBet[]; recent?: PublicBet[] }) => h.onBets([...(d?.pending ?? []), ...(d?.recent ?? [])]));
  h.onStatus('connecting');
  return {
    restart() {
      socket.disconnect();
      socket.connect();
    },
    close() {
      socket.close();
    },
  };
}
