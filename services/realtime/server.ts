/**
 * The realtime service: socket.io streams prices, grid quotes and breaker changes to every client,
 * and per-player events to the room `user:<address>` of a signed-in socket. A socket signs in
 * with the session of the trading core (cookie, or `auth.token` in the handshake); anonymous
 * sockets get the public streams only. Redis pub/sub feeds it; ioredis re-subscribes by itself
 * after a Redis restart. Pub/sub keeps nothing for a subscriber that is away: once the subscription
 * is back, every signed-in player still connected gets `bets:sync` again, so a confirmation or a
 * settlement published during the gap is not lost to them (it is in the database by then).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { Counter, Gauge } from 'prom-client';
import { Server } from 'socket.io';
import { z } from 'zod';
import type { Channels } from '../shared/redis-names.js';
import type { Config } from '../shared/config.js';
import { unauthorized } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Metrics } from '../shared/metrics.js';
import { createProbeHandler } from '../shared/probe-server.js';
import { redisCheck } from '../shared/readiness.js';
import type { Redis } from '../shared/redis.js';
import type { SessionStore } from '../shared/sessions.js';
import { currentQuote } from '../shared/market/quote-store.js';
import { readBreaker } from '../shared/market/breaker-store.js';
import { createTickStore } from '../shared/market/tick-store.js';
import { handle } from './envelope.js';
import { decodePlayerEvents } from '../shared/betting/commands.js';
import { pendingBet, publicBet } from '../shared/betting/public-bet.js';
import { readPendingBets } from '../shared/betting/reserve.js';
import type { Db } from '../shared/db/database.js';
import { listBets } from '../shared/repos/bets.repo.js';

export interface RealtimeDeps {
  config: Config;
  log: Logger;
  redis: Redis;
  subscriber: Redis;
  sessions: SessionStore;
  metrics: Metrics;
  channels: Channels;
  now: () => number;
  /** Read-only primary database: a reconnecting player's recent bets (bets:sync). */
  db?: Db;
}

/** How many recently sent event ids a process remembers to drop repeats (a redelivered batch). */
const SEEN_EVENTS = 20_000;
/** Recent committed bets sent on (re)connect, so what happened while away is seen at once. */
const SYNC_RECENT = 50;

export const userRoom = (address: string) => `user:${address}`;

export function createRealtime(deps: RealtimeDeps): { http: HttpServer; io: Server; close(): Promise<void> } {
  const log = deps.log.child({ module: 'realtime' });
  const registers = [deps.metrics.registry];
  const connected = new Gauge({ name: 'tapstack_realtime_sockets', help: 'Connected sockets', labelNames: ['kind'], registers });
  const emitted = new Counter({ name: 'tapstack_realtime_events_total', help: 'Events pushed to clients', labelNames: ['event'], registers });

  /** True from a subscription Redis has answered until the subscriber's connection closes. */
  let subscribed = false;
  const probe = createProbeHandler({
    metrics: deps.metrics,
    ready: async () => {
      const checks = { redis: await redisCheck(deps.redis), subscriber: { ok: subscribed && deps.subscriber.status === 'ready' } };
      return { ok: checks.redis.ok && checks.subscriber.ok, checks };
    },
  });
  const http = createServer((req, res) => {
    // socket.io handles its own path; everything else is the probe.
    if (!req.url?.startsWith('/socket.io')) probe(req, res);
  });
  const io = new Server(http, { serveClient: false, cors: { origin: deps.config.publicOrigin, credentials: true }, pingInterval: 20_000, pingTimeout: 20_000, maxHttpBufferSize: 16_384 });
  const ticks = createTickStore(deps.redis, { retentionMs: deps.config.tickRetentionMs, now: deps.now, channel: deps.channels.ticks });

  io.use((socket, next) => {
    const token = tokenOf(socket.handshake.auth, socket.handshake.headers.cookie, deps.config.session.cookieName);
    if (!token) return next();
    deps.sessions
      .get(token)
      .then((session) => {
        if (!session) return next(Object.assign(new Error('session-expired'), { data: { code: 'session-expired' } }));
        socket.data.address = session.address;
        next();
      })
      .catch(() => next(Object.assign(new Error('unavailable'), { data: { code: 'unavailable' } })));
  });

  const betsOf = async (address: string) => ({
    pending: (await readPendingBets(deps.redis, address, 500)).map(pendingBet),
    recent: deps.db ? listBets(deps.db, address, { limit: SYNC_RECENT }).map(publicBet) : [],
  });

  io.on('connection', (socket) => {
    const address = socket.data.address as string | undefined;
    const kind = address ? 'signed-in' : 'anonymous';
    connected.inc({ kind });
    if (address) {
      void socket.join(userRoom(address));
      // What happened while the player was away (bets placed whose answer was lost, confirmations
      // and settlements sent while disconnected): their queued bets and recent committed ones.
      void betsOf(address)
        .then((bets) => {
          socket.emit('bets:sync', bets);
          emitted.inc({ event: 'bets:sync' });
        })
        .catch((err: Error) => log.warn({ err: err.message }, 'bets:sync failed'));
    }
    socket.on('disconnect', () => connected.dec({ kind }));

    handle(socket, log, 'whoami', z.object({}).strict(), () => ({ address: address ?? null }));
    handle(socket, log, 'snapshot', z.object({ sinceMs: z.number().int().nonnegative().optional() }).strict(), async ({ sinceMs }) => {
      const now = deps.now();
      const [quote, breaker, history] = await Promise.all([
        currentQuote(deps.redis, now),
        readBreaker(deps.redis, now, deps.config.breaker),
        ticks.range(Math.max(sinceMs ?? now - 60_000, now - 10 * 60_000), now),
      ]);
      return { quote: quote ?? null, breaker, prices: history };
    });
    handle(socket, log, 'ping', z.object({}).passthrough(), () => ({ now: deps.now() }));
    handle(socket, log, 'private', z.object({}).strict(), () => {
      if (!address) throw unauthorized('not-signed-in', 'sign in first');
      return { room: userRoom(address) };
    });
  });

  const seen = new Set<string>();
  const onMessage = (channel: string, message: string) => {
    try {
      const broadcast = { [deps.channels.ticks]: 'price', [deps.channels.quotes]: 'quote', [deps.channels.breaker]: 'breaker' }[channel];
      if (broadcast) {
        io.emit(broadcast, JSON.parse(message) as unknown);
        emitted.inc({ event: broadcast });
      } else if (channel === deps.channels.userEvents) {
        for (const e of decodePlayerEvents(message)) {
          // At-least-once upstream (a redelivered batch re-sends), exactly once to the player here;
          // clients de-duplicate on eventId too (across realtime restarts).
          if (seen.has(e.eventId)) continue;
          seen.add(e.eventId);
          if (seen.size > SEEN_EVENTS) seen.delete(seen.values().next().value as string);
          // The payload carries its eventId: set on the object just parsed from this message (a
          // copy by spread plus a property is several times the garbage per event).
          e.data.eventId = e.eventId;
          io.to(userRoom(e.address)).emit(e.event, e.data);
          emitted.inc({ event: e.event });
        }
      }
    } catch (err) {
      log.warn({ channel, err: (err as Error).message }, 'dropped a malformed pub/sub message');
    }
  };
  deps.subscriber.on('message', onMessage);

  const subscribe = () => deps.subscriber.subscribe(deps.channels.ticks, deps.channels.quotes, deps.channels.breaker, deps.channels.userEvents);
  /** Every signed-in player connected now, once each: `bets:sync` to their room. */
  const resync = async () => {
    const addresses = new Set<string>();
    for (const socket of io.of('/').sockets.values()) if (socket.data.address) addresses.add(socket.data.address as string);
    for (const address of addresses) {
      io.to(userRoom(address)).emit('bets:sync', await betsOf(address));
      emitted.inc({ event: 'bets:sync' });
    }
    if (addresses.size) log.info({ players: addresses.size }, 'player events may have been missed while pub/sub was down: players resynced');
  };
  let lost = false;
  const onClose = () => {
    subscribed = false;
    lost = true;
  };
  // ioredis re-subscribes on 'ready' too; this SUBSCRIBE's answer comes after its, so once it is
  // answered every channel is live again and what the gap missed is in the database.
  const onReady = () => {
    if (!lost) return;
    lost = false;
    subscribe()
      .then(() => {
        subscribed = true;
        return resync();
      })
      .catch((err: Error) => {
        lost = true;
        log.warn({ err: err.message }, 'resubscribe or resync failed; retried on the next reconnect');
      });
  };
  deps.subscriber.on('close', onClose);
  deps.subscriber.on('ready', onReady);
  subscribe()
    .then(() => (subscribed = true))
    .catch((err: Error) => {
      log.error({ err: err.message }, 'subscribe failed; ioredis retries on reconnect');
    });

  return {
    http,
    io,
    close: () =>
      new Promise<void>((resolve) => {
        deps.subscriber.off('message', onMessage);
        deps.subscriber.off('close', onClose);
        deps.subscriber.off('ready', onReady);
        void io.close(() => resolve());
      }),
  };
}

function tokenOf(auth: Record<string, unknown>, cookie: string | undefined, cookieName: string): string | undefined {
  if (typeof auth.token === 'string' && auth.token) return auth.token;
  for (const part of (cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === cookieName) return part.slice(i + 1).trim();
  }
  return undefined;
}
