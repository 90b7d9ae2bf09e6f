/**
 * Exactly once where money or its news moves: the writer (in-process, real Redis, real SQLite) is
 * the one committer; cache effects apply once and events are derived from the committed rows, so a
 * redelivered entry re-sends what was lost and a repeat sends nothing new. The CLI path (through the
 * writer, or under the writer lock when no writer runs) cannot race the writer's balance loads.
 */
import test from 'ava';
import { createBookkeeper } from '../../services/shared/betting/bookkeeping.js';
import { payoutOf, type BetCommand, type WriterCommand } from '../../services/shared/betting/commands.js';
import { betKeys, channels, WRITER_GROUP, WRITER_STREAM } from '../../services/shared/redis-names.js';
import { createReserver } from '../../services/shared/betting/reserve.js';
import { adminMovementRequest } from '../../services/shared/accounts.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { createLogger } from '../../services/shared/logger.js';
import { createMetrics } from '../../services/shared/metrics.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { getBet } from '../../services/shared/repos/bets.repo.js';
import { queryLedger } from '../../services/shared/repos/ledger.repo.js';
import { findUser } from '../../services/shared/repos/users.repo.js';
import { takeWriterLock, tryWriterLock } from '../../services/shared/writer-lock.js';
import { createWriterMetrics } from '../../services/writer/metrics.js';
import { createContext } from '../../cli/context.js';
import { testEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { ALICE, funded, reserveBet, rig, startRealtime } from '../helpers/writer-rig.js';

let server: TestRedis;

test.before(async () => {
  server = await startRedis();
});
test.after.always(async () => {
  await server?.stop();
});


test.serial('a redelivery after the commit re-sends the lost confirmation and applies the cache effect once', async (t) => {
  const r = await rig(server, t);
  await funded(r, 10_000);
  const bet = await reserveBet(r, ALICE, 400);
  t.deepEqual(await r.cache(ALICE), { bal: '9600', pend: '400' });
  // The bookkeeping fails after the SQLite commit (Redis trouble): nothing is acked or published.
  // (Effects are applied by apply(), or by the acknowledgement from encode()'s arguments.)
  const injected = () => {
    throw new Error('injected: redis went away');
  };
  const failing = r.writerWith({ ...r.bookkeeper, apply: async () => injected(), encode: injected });
  const first = await r.readAll();
  await t.throwsAsync(() => failing.processBatch(first), { message: /injected/ });
  t.is(getBet(r.env.db, bet.id)?.state, 'open', 'committed in SQLite');
  t.is(r.events.length, 0, 'no event yet');
  // The writer's next loop reads its unacknowledged entries first.
  const again = await r.readAll('0');
  t.deepEqual(again.map(([id]) => id), first.map(([id]) => id));
  await r.writer.processBatch(again);
  const confirmed = await waitFor(() => r.events.find((e) => e.event === 'bet:confirmed' && e.data.id === bet.id), 'the re-sent bet:confirmed');
  t.is(confirmed.eventId, `${bet.id}:open`);
  t.deepEqual(await r.cache(ALICE), { bal: '9600', pend: null }, 'reservation resolved once, pending record retired');
  t.is(await r.redis.hexists(betKeys.pendingBets(ALICE), bet.id), 0);
  // The same entries once more (e.g. a lost XACK reply): the effect is not applied twice.
  await r.writer.processBatch(again);
  t.deepEqual(await r.cache(ALICE), { bal: '9600', pend: null });
  t.is(findUser(r.env.db, ALICE)?.balance, 9600);
  t.true(checkIntegrity(r.env.db).ok);
});

test.serial('the writer counts what a batch committed once it is committed: a failed batch counts nothing, its redelivery counts once', async (t) => {
  const r = await rig(server, t);
  await funded(r, 10_000);
  const metrics = createMetrics('writer');
  const counters = createWriterMetrics(metrics.registry);
  const counted = async () => {
    const text = await metrics.registry.metrics();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    return { committed: value(/^tapstack_writer_bets_total\{outcome="committed"[^}]*\} (\d+)/m), staked: value(/^tapstack_bet_money_minor_units_total\{flow="stake"[^}]*\} (\d+)/m) };
  };
  await reserveBet(r, ALICE, 400);
  await reserveBet(r, ALICE, 250);
  const batch = await r.readAll();
  // SQLite refuses the batch's second bet row, after the first was written: the whole transaction
  // is rolled back, the first bet with it.
  const failing = r.writerWith(r.bookkeeper, { metrics: counters });
  r.env.db.raw.exec('CREATE TRIGGER fail_bets BEFORE INSERT ON bets WHEN NEW.stake = 250 BEGIN SELECT RAISE(ABORT, \'injected\'); END');
  const failure = await failing.processBatch(batch).then(() => undefined, (err: unknown) => err as { code?: string; message?: string });
  t.is(failure?.message, 'injected');
  t.deepEqual(await counted(), { committed: 0, staked: 0 }, 'a rolled-back batch counts nothing');
  r.env.db.raw.exec('DROP TRIGGER fail_bets');
  await failing.processBatch(await r.readAll('0'));
  t.deepEqual(await counted(), { committed: 2, staked: 650 });
  // Delivered again (a lost XACK reply): re-derived, not counted again.
  await failing.processBatch(batch);
  t.deepEqual(await counted(), { committed: 2, staked: 650 });
});

test.serial('the loop acknowledges a batch with its next read; stopped right after a batch, it acknowledges it before it resolves', async (t) => {
  const r = await rig(server, t);
  await funded(r, 10_000);
  const first = await reserveBet(r, ALICE, 300);
  // The read that delivers the second bet asks the writer to stop: that batch is committed by a
  // loop that does not read again, so its acknowledgement has no read to ride on.
  let second: BetCommand | undefined;
  let stopOnRead = false;
  let stopped: Promise<void> | undefined;
  const reader = new Proxy(r.reader, {
    get(target, prop, receiver) {
      if (prop !== 'call') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<Redis['call']>) => {
        const reply = await target.call(...args);
        if (stopOnRead && !stopped && args.includes('>') && reply) stopped = writer.stop();
        return reply;
      };
    },
  }) as Redis;
  const writer = r.writerWith(r.bookkeeper, { reader });
  writer.start();
  t.teardown(() => writer.stop());
  await waitFor(() => r.events.find((e) => e.event === 'bet:confirmed' && e.data.id === first.id), 'the first confirmation (acked with the next read)');
  t.deepEqual(await r.cache(ALICE), { bal: '9700', pend: null });
  stopOnRead = true;
  second = await reserveBet(r, ALICE, 200);
  await waitFor(() => stopped !== undefined, 'the read of the second bet');
  await stopped;
  t.is(getBet(r.env.db, second.id)?.state, 'open');
  t.is(Number(((await r.redis.xpending(WRITER_STREAM, WRITER_GROUP)) as [number])[0]), 0, 'nothing left unacknowledged');
  t.deepEqual(await r.cache(ALICE), { bal: '9500', pend: null }, 'its effect applied with the acknowledgement');
  const id = second.id;
  await waitFor(() => r.events.find((e) => e.event === 'bet:confirmed' && e.data.id === id), 'the second confirmation');
});

test.serial('a read whose reply is lost in a Redis restart, re-sent by the client, delivers newer entries: the stranded ones are still applied first', async (t) => {
  const r = await rig(server, t);
  await funded(r, 10_000);
  const first = await reserveBet(r, ALICE, 400);
  let second: BetCommand | undefined;
  // The writer's reader as ioredis behaves across a restart: the first read that delivers entries
  // loses its reply, another tap is queued meanwhile, and the same read is sent again — with every
  // command sent behind it on that connection (the writer's XPENDING), in the same order.
  let lost = false;
  let lastRead: Promise<unknown> = Promise.resolve();
  const reader = new Proxy(r.reader, {
    get(target, prop, receiver) {
      if (prop === 'xpending') {
        return async (...args: Parameters<Redis['xpending']>) => {
          await lastRead.catch(() => undefined);
          return target.xpending(...args);
        };
      }
      if (prop !== 'call') return Reflect.get(target, prop, receiver);
      return (...args: Parameters<Redis['call']>) => {
        lastRead = (async () => {
          const reply = await target.call(...args);
          if (lost || !args.includes('>') || !reply) return reply;
          lost = true;
          second = await reserveBet(r, ALICE, 250);
          return target.call(...args);
        })();
        return lastRead;
      };
    },
  }) as Redis;
  const writer = r.writerWith(r.bookkeeper, { reader });
  writer.start();
  t.teardown(() => writer.stop());
  await waitFor(async () => second !== undefined && getBet(r.env.db, second.id) !== undefined && (await r.cache(ALICE)).pend === null, 'both bets committed and their reservations resolved', 15_000);
  await writer.stop();
  t.true(lost, 'the lost reply was simulated');
  t.is(getBet(r.env.db, first.id)?.state, 'open');
  t.deepEqual(await r.cache(ALICE), { bal: '9350', pend: null }, 'no stake left pending');
  t.is(findUser(r.env.db, ALICE)?.balance, 9350);
});

test.serial('a repeated settle sends no second bet:settled and pays once; its own redelivery re-sends the same event id', async (t) => {
  const r = await rig(server, t);
  await funded(r, 10_000);
  const bet = await reserveBet(r, ALICE, 1_000);
  await r.writer.processBatch(await r.readAll());
  const settle = { t: 'settle', id: bet.id, outcome: 'won', reason: 'touched', decidedAt: Date.now() } as const;
  await r.enqueue(settle);
  const first = await r.readAll();
  await r.writer.processBatch(first);
  await waitFor(() => r.events.some((e) => e.event === 'bet:settled'), 'bet:settled');
  // A duplicate verdict (resolver restarted and lost its in-flight map): a new entry, nothing new.
  await r.enqueue(settle);
  await r.writer.processBatch(await r.readAll());
  // The first entry redelivered (its ack was lost): the same event again, with the same id.
  await r.writer.processBatch(first);
  await waitFor(() => r.events.filter((e) => e.event === 'bet:settled').length >= 2, 'the redelivered bet:settled');
  const settled = r.events.filter((e) => e.event === 'bet:settled');
  t.is(settled.length, 2, 'the duplicate sent nothing; the redelivery re-sent');
  t.deepEqual([...new Set(settled.map((e) => e.eventId))], [`${bet.id}:won`], 'one event id: a client shows it once');
  const payout = payoutOf(1_000, 300);
  t.is(findUser(r.env.db, ALICE)?.balance, 10_000 - 1_000 + payout);
  t.deepEqual(await r.cache(ALICE), { bal: String(10_000 - 1_000 + payout), pend: null });
  t.is(queryLedger(r.env.db, { ref: `bet:${bet.id}:payout`, limit: 5 }).length, 1);
});

test.serial('a reservation script re-sent after the bet was committed is returned in full, without a second debit or event', async (t) => {
  const r = await rig(server, t);
  await funded(r, 5_000);
  const bet = await reserveBet(r, ALICE, 700);
  await r.writer.processBatch(await r.readAll());
  // The reply of the original script was lost and ioredis re-sent it after the writer retired the
  // pending record: a second entry for the same bet, a second reservation in the cache.
  const reserver = createReserver(r.redis, { staleAfterMs: 3_600_000, recoveryMs: 1, ratePerSecond: 1000, cellCap: 1e12, columnCap: 1e12, idempotencyTtlSeconds: 60 });
  t.is((await reserver.reserve(bet, { now: Date.now() })).kind, 'ok');
  t.deepEqual(await r.cache(ALICE), { bal: '3600', pend: '700' });
  const before = r.events.length;
  await r.writer.processBatch(await r.readAll());
  t.deepEqual(await r.cache(ALICE), { bal: '4300', pend: null }, 'the duplicate reservation is returned');
  t.is(findUser(r.env.db, ALICE)?.balance, 4_300, 'debited once');
  t.is(r.events.length, before, 'no second confirmation');
});

test.serial('CLI credits and the writer loads interleave without a stale cache: the writer commits both, in order', async (t) => {
  const r = await rig(server, t);
  await funded(r, 1_000);
  await reserveBet(r, ALICE, 100); // a stake queued: committed with the first batch below
  await r.redis.del(betKeys.balance(ALICE)); // cache dropped (e.g. Redis restarted): a load is due
  // The old race: the writer read the SQLite balance for a load, the CLI committed a credit and
  // dropped the key, the writer stored the old balance. Now the CLI's credit is a queue entry, so
  // every interleaving of loads and credits is one order the writer processes. Try them all.
  const req = adminMovementRequest({ address: ALICE, direction: 'credit', amount: 250, ref: 'x', operator: 't' });
  const orders: WriterCommand['t'][][] = [['load', 'move', 'load'], ['move', 'load'], ['load', 'move'], ['move', 'load', 'move']];
  let n = 0;
  for (const order of orders) {
    for (const kind of order) {
      n += 1;
      if (kind === 'load') await r.enqueue({ t: 'load', address: ALICE });
      else await r.enqueue({ t: 'move', id: `m${n}`, requestedAt: Date.now(), ...req, ref: `credit-${n}` });
      // Alternate one batch per entry and several entries per batch.
      if (n % 2 === 0) await r.writer.processBatch(await r.readAll());
    }
    await r.writer.processBatch(await r.readAll());
    const book = findUser(r.env.db, ALICE)?.balance ?? 0;
    const c = await r.cache(ALICE);
    t.is(Number(c.bal), book - Number(c.pend ?? 0), `order ${order.join(',')}: available = book - queued stakes`);
    await r.redis.del(betKeys.balance(ALICE));
  }
});

test.serial('the CLI commits through a running writer (waiting for its answer), and itself only while it holds the writer lock', async (t) => {
  const r = await rig(server, t);
  const cliEnv = { ...testEnv({ dataDir: r.env.dir, redis: server }), TAPSTACK_REDIS_PREFIX: r.config.redis.prefix };
  const ctx = createContext(cliEnv);
  t.teardown(() => ctx.close());
  // A writer runs (holds the lock): the CLI queues the movement and waits for the writer's answer.
  const lock = tryWriterLock(r.env.dir);
  t.truthy(lock, 'no writer yet: the lock is free');
  r.writer.start();
  const viaWriter = await ctx.moveMoney(adminMovementRequest({ address: ALICE, direction: 'credit', amount: 900, ref: 'dep-9', operator: 't' }), { timeoutMs: 10_000 });
  t.like(viaWriter, { applied: true, committedBy: 'writer', balance: 900 });
  const replay = await ctx.moveMoney(adminMovementRequest({ address: ALICE, direction: 'credit', amount: 900, ref: 'dep-9', operator: 't' }), { timeoutMs: 10_000 });
  t.like(replay, { applied: false, seq: viaWriter.seq });
  await t.throwsAsync(() => ctx.moveMoney(adminMovementRequest({ address: ALICE, direction: 'debit', amount: 5_000, ref: 'wd-1', operator: 't' }), { timeoutMs: 10_000 }), { message: /balance 900/ });
  await r.writer.stop();
  // The writer is not consuming, but "running" (lock held): the CLI times out, saying the movement stays queued.
  await t.throwsAsync(() => ctx.moveMoney(adminMovementRequest({ address: ALICE, direction: 'credit', amount: 1, ref: 'late-1', operator: 't' }), { timeoutMs: 300 }), { message: /did not commit it within/ });
  lock?.release();
  // No writer: the CLI takes the lock and commits by itself; a writer starting meanwhile waits.
  const direct = await ctx.moveMoney(adminMovementRequest({ address: ALICE, direction: 'credit', amount: 100, ref: 'dep-10', operator: 't' }), { timeoutMs: 1000 });
  t.like(direct, { applied: true, committedBy: 'cli', balance: 1_000 });
  const held = tryWriterLock(r.env.dir);
  t.truthy(held);
  let writerGotLock = false;
  const starting = takeWriterLock(r.env.dir).then((l) => {
    writerGotLock = true;
    return l;
  });
  await new Promise((res) => setImmediate(res));
  t.false(writerGotLock, 'the writer waits for the lock');
  held?.release();
  (await starting).release();
  t.true(writerGotLock);
  // The queued late credit is committed by the next writer, once.
  await r.writer.processBatch(await r.readAll());
  t.is(findUser(r.env.db, ALICE)?.balance, 1_001);
  t.true(checkIntegrity(r.env.db).ok);
});

test.serial('a bet whose answer was lost (API killed after reserving) is listed as pending until the writer commits it', async (t) => {
  const r = await rig(server, t);
  await funded(r, 2_000);
  // The API reserved and queued it, then died before answering: all that exists is in Redis.
  const bet = await reserveBet(r, ALICE, 300, 'tap-key-0001');
  const reserver = createReserver(r.redis, { staleAfterMs: 3_600_000, recoveryMs: 1, ratePerSecond: 1000, cellCap: 1e12, columnCap: 1e12, idempotencyTtlSeconds: 60 });
  t.deepEqual((await reserver.pendingBets(ALICE, 50)).map((b) => b.id), [bet.id]);
  // More in flight: listed oldest first (ids begin with their placement time), at most `limit`.
  const later: string[] = [];
  for (let i = 0; i < 2; i++) {
    const before = Date.now();
    await waitFor(() => Date.now() > before, 'the next millisecond');
    later.push((await reserveBet(r, ALICE, 10)).id);
  }
  t.deepEqual((await reserver.pendingBets(ALICE, 50)).map((b) => b.id), [bet.id, ...later]);
  t.deepEqual((await reserver.pendingBets(ALICE, 2)).map((b) => b.id), [bet.id, later[0]]);
  await r.writer.processBatch(await r.readAll());
  t.deepEqual(await reserver.pendingBets(ALICE, 50), [], 'committed: no longer pending');
  t.is(getBet(r.env.db, bet.id)?.state, 'open');
  t.is(await r.redis.exists(betKeys.pendingBets(ALICE)), 0, 'the emptied pending hash is gone');
  t.is(await r.redis.get(betKeys.idempotency(ALICE, 'tap-key-0001')), bet.id, 'a retry of the same key still finds it');
});

test.serial('on (re)connect the realtime service sends a player their queued bets and what was committed meanwhile', async (t) => {
  const r = await rig(server, t);
  await funded(r, 2_000);
  const realtime = await startRealtime(r, t);
  const sync = (): Promise<{ pending: { id: string; state: string }[]; recent: { id: string; state: string }[] }> =>
    new Promise((resolve, reject) => {
      const socket = realtime.connect();
      socket.once('bets:sync', (d) => {
        socket.disconnect();
        resolve(d);
      });
      socket.once('connect_error', reject);
    });
  // Placed while the player was away (the API died before answering): shown as pending at once.
  const queued = await reserveBet(r, ALICE, 300);
  const first = await sync();
  t.deepEqual(first.pending.map((b) => [b.id, b.state]), [[queued.id, 'pending']]);
  // Committed while the player was disconnected: the next connect shows it as confirmed.
  await r.writer.processBatch(await r.readAll());
  const second = await sync();
  t.deepEqual(second.pending, []);
  t.deepEqual(second.recent.map((b) => [b.id, b.state]), [[queued.id, 'open']]);
});

test.serial('the bookkeeper applies each effect once however a batch is cut: one call, one per effect, or a redelivery from the middle', async (t) => {
  const r = await rig(server, t);
  const BOB = '0x71C7656EC7ab88b098defB751B7401B5f6d8976F';
  // Effects of one batch over two accounts, two cells and a window: reservations (pending -stake,
  // some rejected: balance back and caps released), settlements (payouts, caps released), credits.
  const startMs = 1_800_000_000_000;
  const effects = Array.from({ length: 40 }, (_, i) => {
    const address = i % 3 === 0 ? BOB : ALICE;
    const at = `1700000000000-${i + 1}`;
    const kind = i % 4;
    return kind === 0
      ? { at, address, balance: 0, pending: -(10 + i), release: 0, startMs, lowCents: 100, retire: `bk${i}` }
      : kind === 1
        ? { at, address, balance: 10 + i, pending: -(10 + i), release: 3 * (10 + i), startMs, lowCents: 100 + (i % 2) * 100, retire: `bk${i}` }
        : kind === 2
          ? { at, address, balance: 5 * i, pending: 0, release: 2 * i, startMs, lowCents: 200 }
          : { at, address, balance: 7, pending: 0, release: 0, startMs: 0, lowCents: 0 };
  });
  const seed = async (prefix: string) => {
    for (const a of [ALICE, BOB]) {
      await r.redis.set(`${prefix}${betKeys.balance(a)}`, '100000');
      await r.redis.set(`${prefix}${betKeys.pending(a)}`, '5000');
    }
    for (const low of [100, 200]) await r.redis.set(`${prefix}${betKeys.cellLiability(startMs, low)}`, '100000');
    await r.redis.set(`${prefix}${betKeys.columnLiability(startMs)}`, '100000');
    for (const e of effects) {
      if (!e.retire) continue;
      await r.redis.hset(`${prefix}${betKeys.pendingBets(e.address)}`, e.retire, '{}');
    }
  };
  // The state every key that bookkeeping touches ends in, under one key prefix.
  const state = async (prefix: string) => {
    const keys = [
      ...[ALICE, BOB].flatMap((a) => [betKeys.balance(a), betKeys.pending(a), betKeys.appliedUpTo(a)]),
      betKeys.cellLiability(startMs, 100),
      betKeys.cellLiability(startMs, 200),
      betKeys.columnLiability(startMs),
    ];
    const values = await Promise.all(keys.map((k) => r.redis.get(`${prefix}${k}`)));
    const queued = await Promise.all([ALICE, BOB].map(async (a) => Object.keys(await r.redis.hgetall(`${prefix}${betKeys.pendingBets(a)}`)).sort()));
    return { values: Object.fromEntries(keys.map((k, i) => [k, values[i]])), queued };
  };
  // Each way runs against its own copy of the keys: a bookkeeper on a connection with its own prefix.
  const withPrefix = (p: string) => {
    const conn = r.redis.duplicate({ keyPrefix: `${r.config.redis.prefix}${p}` });
    t.teardown(() => conn.disconnect());
    return createBookkeeper(conn);
  };
  const whole = withPrefix('whole:');
  const single = withPrefix('single:');
  const redelivered = withPrefix('redo:');
  await seed('whole:');
  await seed('single:');
  await seed('redo:');
  t.is(await whole.apply(effects), effects.length);
  for (const e of effects) t.is(await single.apply([e]), 1);
  // A batch applied up to effect 25 (the writer died before the rest), then redelivered whole.
  t.is(await redelivered.apply(effects.slice(0, 25)), 25);
  t.is(await redelivered.apply(effects), effects.length - 25);
  t.is(await redelivered.apply(effects), 0, 'a second redelivery applies nothing');
  const expected = await state('single:');
  t.deepEqual(await state('whole:'), expected);
  t.deepEqual(await state('redo:'), expected);
  // And the figures themselves, for one account: balance and pending moved by the sums.
  const alice = effects.filter((e) => e.address === ALICE);
  t.is(Number(expected.values[betKeys.balance(ALICE)]), 100_000 + alice.reduce((s, e) => s + e.balance, 0));
  const pend = 5000 + alice.reduce((s, e) => s + e.pending, 0);
  t.is(expected.values[betKeys.pending(ALICE)], pend > 0 ? String(pend) : null);
  t.deepEqual(expected.queued, [[], []], 'every retired bet left the pending lists');
});
