/**
 * The single writer: the only consumer of the queue stream and the only process that moves money
 * in SQLite during operation. It reads entries in batches (as many as are waiting, up to
 * batchMax; the read returns as soon as anything is there) and commits each batch in ONE SQLite
 * transaction: conditional debit + bet row + ledger row per bet, payout/refund ledger rows per
 * settlement, admin credits/debits and demo grants (each command's statements: book.ts). Only
 * after the commit does it update the Redis cache, acknowledge the entries and tell the players.
 *
 * Everything after the commit is derived from the committed rows, never from "was this new?":
 * each row records the queue entry that committed it (bets.queue_id, bets.settled_by, the
 * movement's meta.queue), so an entry that comes back after a crash re-applies its cache effect
 * (exactly once: bookkeeping.ts) and re-sends its event (at least once; de-duplicated by eventId),
 * while any other entry for the same bet or ref is a repeat that changes and sends nothing.
 */
import type { Db } from '../shared/db/database.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis.js';
import { decodeCommand, encodePlayerEvents, type WriterCommand } from '../shared/betting/commands.js';
import { LUA_APPLY_EFFECTS, LUA_STREAM_ID_BEFORE, type Bookkeeper } from '../shared/betting/bookkeeping.js';
import { betKeys, DEAD_LETTERS, fullKeyName, WRITER_CONSUMER as CONSUMER, WRITER_GROUP, WRITER_STREAM, type Channels } from '../shared/redis-names.js';
import { allBalances, findUser } from '../shared/repos/users.repo.js';
import { createBook, newOutcome } from './book.js';
import type { WriterMetrics } from './metrics.js';

/** How long a movement's answer waits for its requester (the CLI) to pick it up. */
const MOVE_RESULT_TTL_SECONDS = 600;
/** The smallest read the batch sizing makes (below it the per-batch round trips dominate). */
const MIN_BATCH = 16;

// Post-commit writes that add to Redis run with allow-oom: the writer must always be able to
// record dead letters and answer movements, even while Redis is at its cap (the API refuses taps
// then; what the writer does shrinks Redis overall).
const POST_RESULT = `#!lua flags=allow-oom
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;
const DEAD_LETTER = `#!lua flags=allow-oom
redis.call('XADD', KEYS[1], '*', 'from', ARGV[1], 'c', ARGV[2])
return 1`;
// The end of a batch in one step: apply the cache effects (when they come with it: bookkeeping.ts),
// acknowledge the entries, tell the players, then drop what is done from the stream — everything
// before the newest acked id, but never an entry still pending (delivered by a read whose reply
// was lost: its data is needed to process it) — and report the depth. The loop sends it on the
// reader's connection right in front of its next read, so one round trip ends a batch and starts
// the next (Redis runs a connection's commands in order: the read sees this batch acked). Shrinks
// Redis, so allow-oom. An error before the XACK leaves the entries pending (they come back,
// everything is re-derived); the trim is best effort.
// KEYS: stream, then 6 per effect; ARGV: group, channel, newest id, number of ids, number of
// effects, the ids, 6 per effect, then the messages.
const ACK_BATCH = `#!lua flags=allow-oom
${LUA_STREAM_ID_BEFORE}
${LUA_APPLY_EFFECTS}
local n = tonumber(ARGV[4])
local effects = tonumber(ARGV[5])
applyEffects(1, 5 + n, effects)
for i = 6, 5 + n, 5000 do redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, math.min(i + 4999, 5 + n))) end
for i = 6 + n + 6 * effects, #ARGV do redis.call('PUBLISH', ARGV[2], ARGV[i]) end
local summary = redis.call('XPENDING', KEYS[1], ARGV[1])
local trimTo = ARGV[3]
if tonumber(summary[1]) > 0 and summary[2] and before(summary[2], trimTo) then trimTo = summary[2] end
redis.pcall('XTRIM', KEYS[1], 'MINID', '~', trimTo)
return redis.call('XLEN', KEYS[1])`;

export interface WriterDeps {
  db: Db;
  /** For bookkeeping, acks and events. */
  redis: Redis;
  /** A separate connection for the blocking reads (a blocked connection would stall the others). */
  reader: Redis;
  bookkeeper: Bookkeeper;
  channels: Channels;
  log: Logger;
  metrics: WriterMetrics;
  batchMax: number;
  /** Target duration of the statements of a batch transaction, ms (reads are sized to it; see batchSize). */
  batchTargetMs?: number;
  now: () => number;
}

type Entry = [id: string, fields: string[] | null];
/** A committed batch's acknowledgement: ACK_BATCH's KEYS and ARGV, and what to report once it is done. */
interface Ack {
  keys: string[];
  args: (string | number)[];
  dead: number;
  bets: number;
}
type Script = (numKeys: number, ...args: (string | number)[]) => Promise<number>;

export function createWriter(deps: WriterDeps) {
  const log = deps.log.child({ module: 'writer' });
  deps.redis.defineCommand('tapstackPostResult', { lua: POST_RESULT });
  deps.redis.defineCommand('tapstackDeadLetter', { lua: DEAD_LETTER });
  // The acknowledgement goes on either connection: the loop's on the reader's, ahead of its next read.
  for (const conn of [deps.redis, deps.reader]) conn.defineCommand('tapstackAckBatch', { lua: ACK_BATCH });
  const scripts = deps.redis as unknown as { tapstackPostResult: Script; tapstackDeadLetter: Script };
  let running = false;
  // The transaction runs synchronously: everything else in this process (the next read, the
  // events, the probes) waits for it. Reads are sized so its statements take about batchTargetMs,
  // from the time per entry of recent batches (the commit's fsync comes on top, a fixed cost). A
  // read that comes back full means entries are waiting: the next one is twice as large (up to
  // batchMax), so a writer that falls behind trades its loop latency for throughput, and returns
  // to the target size once it has caught up.
  const targetMs = deps.batchTargetMs;
  let msPerEntry = 0.25;
  let boost = 1;
  const batchSize = () => {
    if (targetMs === undefined) return deps.batchMax;
    const base = Math.max(MIN_BATCH, Math.floor(targetMs / msPerEntry));
    return Math.min(deps.batchMax, base * boost);
  };
  const sized = (asked: number, got: number) => {
    boost = got >= asked ? Math.min(boost * 2, 1024) : 1;
  };
  let loop: Promise<void> | undefined;
  let lastLoopAt = 0;
  const book = createBook(deps.db, log);

  /**
   * Commit a batch and do what must come before its acknowledgement; the acknowledgement itself
   * is returned, to be sent (sendAck) on the reader's connection ahead of the next read.
   */
  async function commitBatch(entries: Entry[]): Promise<Ack | undefined> {
    if (entries.length === 0) return undefined;
    const commands: { id: string; cmd: WriterCommand }[] = [];
    const dead: Entry[] = [];
    for (const [id, fields] of entries) {
      try {
        // A pending entry whose data is gone from the stream is read back as [id, null].
        if (!fields) throw new Error('entry data missing');
        commands.push({ id, cmd: decodeCommand(fields[fields.indexOf('c') + 1] ?? '') });
      } catch {
        dead.push([id, fields]);
      }
    }

    const now = deps.now();
    const started = performance.now();
    const out = newOutcome(deps.db);
    let bets = 0;
    let statementsMs = 0;
    deps.db.write(() => {
      for (const { id, cmd } of commands) {
        if (cmd.t === 'bet') bets += 1;
        book.commit(cmd, id, now, out);
      }
      statementsMs = performance.now() - started;
    });
    deps.metrics.commitSeconds.observe((performance.now() - started) / 1000);
    if (commands.length > 0) msPerEntry = 0.8 * msPerEntry + 0.2 * (statementsMs / commands.length);
    deps.metrics.batchSize.observe(entries.length);
    for (const [outcome, n] of out.bets) deps.metrics.bets.inc({ outcome }, n);
    for (const [flow, amount] of out.money) deps.metrics.money.inc({ flow }, amount);

    // After the commit: cache effects (exactly once each), balance loads, answers, then the ack.
    // A balance load must see this batch's effects (it reads the queued stakes) and a movement's
    // answer is awaited by the CLI: with either, or more effects than one script call takes, the
    // effects are applied first; otherwise they are applied by the acknowledgement, atomically.
    const withAck = out.loads.length === 0 && out.results.length === 0 && out.effects.length <= deps.bookkeeper.chunk;
    if (!withAck) await deps.bookkeeper.apply(out.effects);
    for (const address of new Set(out.loads)) {
      await deps.bookkeeper.load(address, findUser(deps.db, address)?.balance ?? 0, false);
    }
    for (const [id, fields] of dead) await scripts.tapstackDeadLetter.call(deps.redis, 1, DEAD_LETTERS, id, fields ? JSON.stringify(fields) : 'missing');
    for (const r of out.results) await scripts.tapstackPostResult.call(deps.redis, 1, betKeys.moveResult(r.id), JSON.stringify(r.result), MOVE_RESULT_TTL_SECONDS);
    const effects = withAck ? out.effects : [];
    const { keys, args } = deps.bookkeeper.encode(effects);
    const ids = entries.map(([id]) => id);
    return {
      keys: [WRITER_STREAM, ...keys],
      args: [WRITER_GROUP, deps.channels.userEvents, ids.at(-1) as string, ids.length, effects.length, ...ids, ...args, ...encodePlayerEvents(out.events)],
      dead: dead.length,
      bets,
    };
  }

  /** Send a committed batch's acknowledgement (ACK_BATCH) on `conn`. */
  const sendAck = async (conn: Redis, ack: Ack): Promise<void> => {
    reportDepth(await (conn as unknown as { tapstackAckBatch: Script }).tapstackAckBatch.call(conn, ack.keys.length, ...ack.keys, ...ack.args));
    if (ack.dead) log.error({ count: ack.dead }, `unreadable queue entries moved to ${DEAD_LETTERS}`);
    if (ack.bets) deps.metrics.lastCommit.set(Date.now() / 1000);
  };

  /** Commit and acknowledge one batch (recovery, tests; the loop sends the ack with its next read). */
  async function processBatch(entries: Entry[]): Promise<void> {
    const ack = await commitBatch(entries);
    if (ack) await sendAck(deps.redis, ack);
  }

  /**
   * One read of the group, with the previous batch's acknowledgement in front of it when there is
   * one (same connection, so Redis acks before it reads). A read of new entries also asks XPENDING
   * on that connection, sent behind it without waiting: Redis answers it once the read has
   * returned, so it counts what the read delivered plus anything an earlier, lost reply left
   * pending (one round trip for all three; a client that re-sends the read after a reconnect
   * re-sends the XPENDING after it). A failed ack is the error thrown: its entries stay pending.
   */
  const read = async (id: '0' | '>', block: boolean, ack?: Ack): Promise<{ entries: Entry[]; pending: number }> => {
    const count = batchSize();
    const args: (string | number)[] = ['GROUP', WRITER_GROUP, CONSUMER, 'COUNT', count];
    if (block) args.push('BLOCK', 50);
    const acking = ack ? sendAck(deps.reader, ack) : undefined;
    const reading = deps.reader.call('XREADGROUP', ...args, 'STREAMS', WRITER_STREAM, id) as Promise<[string, Entry[]][] | null>;
    const summary = id === '>' ? deps.reader.xpending(WRITER_STREAM, WRITER_GROUP) : undefined;
    // One error is reported (the first awaited below); the others are awaited or dropped with it.
    reading.catch(() => undefined);
    summary?.catch(() => undefined);
    await acking;
    const res = await reading;
    const entries = res?.[0]?.[1] ?? [];
    sized(count, entries.length);
    return { entries, pending: summary ? Number(((await summary) as [number])[0]) : entries.length };
  };

  let lastDepthAt = 0;
  const reportDepth = (depth: number) => {
    deps.metrics.queueDepth.set(depth);
    lastDepthAt = Date.now();
  };

  return {
    /** Create the consumer group, finish what a previous run left unacknowledged, rebuild the cache. */
    async recover(): Promise<{ redelivered: number; accounts: number }> {
      // ioredis does not prefix the key of XGROUP subcommands: name it in full.
      await deps.redis.call('XGROUP', 'CREATE', fullKeyName(deps.redis, WRITER_STREAM), WRITER_GROUP, '0', 'MKSTREAM').catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
      let redelivered = 0;
      for (;;) {
        const { entries: pending } = await read('0', false);
        if (pending.length === 0) break;
        redelivered += pending.length;
        await processBatch(pending);
      }
      // Rebuild every balance cache: SQLite balance − stakes still queued (atomic per address).
      const balances = allBalances(deps.db);
      for (const u of balances) await deps.bookkeeper.load(u.address, u.balance, true);
      return { redelivered, accounts: balances.length };
    },
    start(): void {
      running = true;
      loop = (async () => {
        // Our own unacknowledged entries come first: at start, after a failed batch (its
        // bookkeeping or ack failed: Redis went away), and after a read that left entries pending
        // that it did not deliver (below). Reading only new entries ('>') would strand them until a
        // restart: bets accepted but never committed, stakes pending forever. When a batch was
        // processed and acked, nothing is pending, so the loop does not ask again.
        let pendingFirst = true;
        let ack: Ack | undefined; // the last batch's, sent with the next read
        while (running) {
          lastLoopAt = Date.now();
          // The last batch's acknowledgement rides on this iteration's first read.
          const acking = ack;
          ack = undefined;
          try {
            let entries: Entry[] = [];
            const readPending = pendingFirst;
            if (readPending) {
              ({ entries } = await read('0', false, acking));
              pendingFirst = entries.length > 0;
            }
            if (!pendingFirst) {
              const fresh = await read('>', true, readPending ? undefined : acking);
              entries = fresh.entries;
              // A read whose reply was lost in a Redis restart left its entries pending, and the
              // client library re-sends the read, which then delivers newer ones. Processing those
              // first would move an account's bookkeeping watermark past the stranded entries and
              // skip their cache effects (a stake left pending forever). So when more entries are
              // pending than this read delivered, read them all from '0', oldest first. Asked after
              // an empty read too: a re-sent read may have found nothing new.
              if (fresh.pending > entries.length) {
                ({ entries } = await read('0', false));
                pendingFirst = true;
              }
            }
            if (entries.length > 0) ack = await commitBatch(entries);
            // A batch reports the depth itself; while idle it is read once a second.
            else if (Date.now() - lastDepthAt >= 1000) reportDepth(await deps.redis.xlen(WRITER_STREAM));
          } catch (err) {
            // SQLite failures (a full disk) and Redis outages alike: nothing was acked, so it is
            // all retried; the loop keeps its probe fresh meanwhile.
            pendingFirst = true;
            log.error({ err: (err as Error).message }, 'batch failed; retrying');
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        // Stopping: the last batch's acknowledgement has no read to ride on.
        if (ack) {
          await sendAck(deps.redis, ack).catch((err: Error) => {
            log.error({ err: err.message }, 'the last batch was committed but not acknowledged: it is redelivered (and re-derived) at the next start');
          });
        }
      })();
    },
    /** Stop reading; resolves once the batch in flight is committed and acknowledged (drain). */
    async stop(): Promise<void> {
      running = false;
      await loop;
    },
    lastLoopAt: () => lastLoopAt,
    processBatch,
  };
}
