/**
 * An in-process writer on a fresh database and its own key prefix of a shared test Redis, with a
 * subscriber collecting the player events, and the steps the writer tests share: reserve a bet as
 * the API does (the Lua reservation), fund an account through the writer, and the realtime service
 * that carries the events to a player's socket.
 */
import type { AddressInfo } from 'node:net';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { createBookkeeper, type Bookkeeper } from '../../services/shared/betting/bookkeeping.js';
import { decodePlayerEvents, encodeCommand, payoutOf, type BetCommand, type PlayerEvent, type WriterCommand } from '../../services/shared/betting/commands.js';
import { betKeys, channels, WRITER_CONSUMER, WRITER_GROUP, WRITER_STREAM } from '../../services/shared/redis-names.js';
import { createReserver } from '../../services/shared/betting/reserve.js';
import { loadConfig } from '../../services/shared/config.js';
import { createLogger } from '../../services/shared/logger.js';
import { createMetrics } from '../../services/shared/metrics.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { createWriter } from '../../services/writer/writer.js';
import { createWriterMetrics } from '../../services/writer/metrics.js';
import { freshDb, testEnv } from './env.js';
import { closeBreaker } from './market-fixture.js';
import type { TestRedis } from './redis-server.js';
import { createRealtime } from '../../services/realtime/server.js';
import { createSessionStore } from '../../services/shared/sessions.js';

export const ALICE = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B';

/** A fresh database, its own key prefix, an in-process writer and a subscriber collecting events. */
export async function rig(server: TestRedis, t: { teardown(fn: () => void | Promise<void>): void }) {
  const env = freshDb();
  const config = loadConfig({ ...testEnv({ dataDir: env.dir, redis: server }), TAPSTACK_REDIS_PREFIX: env.config.redis.prefix });
  const log = createLogger({ service: 'test', level: 'silent' });
  const redis = createRedis(config, log, 'test');
  const reader = createRedis(config, log, 'test-reader');
  const sub = createRedis(config, log, 'test-sub');
  const ch = channels(config.redis.prefix);
  const events: PlayerEvent<{ id: string; state: string }>[] = [];
  sub.on('message', (_c: string, m: string) => events.push(...(decodePlayerEvents(m) as typeof events)));
  await sub.subscribe(ch.userEvents);
  const writerWith = (bookkeeper: Bookkeeper, opts: { metrics?: ReturnType<typeof createWriterMetrics>; reader?: Redis; batchTargetMs?: number } = {}) =>
    createWriter({ db: env.db, redis, reader: opts.reader ?? reader, bookkeeper, channels: ch, log, metrics: opts.metrics ?? createWriterMetrics(createMetrics('writer').registry), batchMax: 500, ...(opts.batchTargetMs !== undefined ? { batchTargetMs: opts.batchTargetMs } : {}), now: Date.now });
  const bookkeeper = createBookkeeper(redis);
  const writer = writerWith(bookkeeper);
  await writer.recover();
  t.teardown(async () => {
    sub.disconnect();
    reader.disconnect();
    redis.disconnect();
    env.db.close();
  });
  /** Read what is waiting (new and unacknowledged), as the writer's loop does. */
  const readAll = async (id: '0' | '>' = '>') =>
    (((await reader.call('XREADGROUP', 'GROUP', WRITER_GROUP, WRITER_CONSUMER, 'COUNT', 1000, 'STREAMS', WRITER_STREAM, id)) as [string, [string, string[]][]][] | null)?.[0]?.[1] ?? []);
  const enqueue = (c: WriterCommand) => redis.xadd(WRITER_STREAM, '*', 'c', encodeCommand(c)) as Promise<string>;
  const cache = async (address: string) => ({
    bal: await redis.get(betKeys.balance(address)),
    pend: await redis.get(betKeys.pending(address)),
  });
  return { env, config, redis, reader, writer, writerWith, bookkeeper, events, readAll, enqueue, cache };
}

export type Rig = Awaited<ReturnType<typeof rig>>;

/** A bet reserved exactly as the API does it (the Lua reservation), then left to the writer. */
export async function reserveBet(r: Rig, address: string, stake: number, idempotencyKey?: string): Promise<BetCommand> {
  const now = Date.now();
  await closeBreaker(r.redis, r.config, now);
  const reserver = createReserver(r.redis, { staleAfterMs: 3_600_000, recoveryMs: 1, ratePerSecond: 1000, cellCap: 1e12, columnCap: 1e12, idempotencyTtlSeconds: 60 });
  const startMs = now + 60_000;
  const bet: BetCommand = { t: 'bet', id: `b${now.toString(36)}${Math.random().toString(16).slice(2, 10)}`, address, quoteId: 'q1', lowCents: 100, highCents: 200, startMs, endMs: startMs + 5000, stake, multiplierCents: 300, payout: payoutOf(stake, 300), placedAt: now };
  const res = await reserver.reserve(bet, { now, idempotencyKey });
  if (res.kind !== 'ok') throw new Error(`not reserved: ${JSON.stringify(res)}`);
  return bet;
}

export async function funded(r: Rig, amount: number) {
  await r.enqueue({ t: 'move', id: 'fund', address: ALICE, kind: 'credit', amount, ref: 'fund-1', meta: null, createAccount: true, requestedAt: Date.now() });
  await r.writer.processBatch(await r.readAll());
  await r.enqueue({ t: 'load', address: ALICE });
  await r.writer.processBatch(await r.readAll());
}

/**
 * The realtime service in-process on the rig's Redis prefix and database (a loopback port), with
 * its own subscriber connection; `connect` opens a signed-in socket of ALICE.
 */
export async function startRealtime(r: Rig, t: { teardown(fn: () => void | Promise<void>): void }) {
  const log = createLogger({ service: 'test', level: 'silent' });
  const subscriber = createRedis(r.config, log, 'rt-sub');
  const sessions = createSessionStore(r.redis, 3600);
  const realtime = createRealtime({ config: r.config, log, redis: r.redis, subscriber, sessions, metrics: createMetrics('realtime'), channels: channels(r.config.redis.prefix), now: Date.now, db: r.env.db });
  await new Promise<void>((res) => realtime.http.listen(0, '127.0.0.1', () => res()));
  const sockets: Socket[] = [];
  t.teardown(async () => {
    for (const s of sockets) s.disconnect();
    await realtime.close();
    realtime.http.close();
    subscriber.disconnect();
  });
  const url = `http://127.0.0.1:${(realtime.http.address() as AddressInfo).port}`;
  const token = await sessions.create(ALICE, Date.now());
  const connect = () => {
    const socket = connectSocket(url, { transports: ['websocket'], auth: { token }, reconnection: false });
    sockets.push(socket);
    return socket;
  };
  return { url, subscriber, connect };
}
