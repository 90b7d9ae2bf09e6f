/**
 * The single writer: the only consumer of the queue stream and the only process that moves money
 * in SQLite during operation. It reads entries in batches (as many as are waiting, up to
 * batchMax; the read returns as soon as anything is there) and commits each batch in ONE SQLite
 * transaction: conditional debit + bet row + ledger row per bet, payout/refund ledger rows per
 * settlement. Processing is idempotent on the bet id and on the ledger ref, so a batch redelivered
 * after a crash changes nothing twice. Only after the commit does it update the Redis cache
 * (exactly once per effect), acknowledge the entries and tell the players.
 */
import type { Channels } from '../shared/channels.js';
import type { Db } from '../shared/db/database.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis.js';
import { decodeCommand, payoutOf, WRITER_GROUP, WRITER_STREAM, type BetCommand, type SettleCommand, type WriterCommand } from '../shared/betting/commands.js';
import { reservationEffect, settlementEffect, type Bookkeeper, type Effect } from '../shared/betting/bookkeeping.js';
import { betKeys } from '../shared/betting/keys.js';
import { betExists, getBet, insertBet, settleBet, type BetRow } from '../shared/repos/bets.repo.js';
import { postMovement } from '../shared/repos/ledger.repo.js';
import { findUser } from '../shared/repos/users.repo.js';
import type { WriterMetrics } from './metrics.js';

export const CONSUMER = 'writer';
const DEAD_LETTERS = 'writer:dead';

/** Stream ids are `<ms>-<seq>`: compare them as numbers, part by part. */
function streamIdBefore(a: string, b: string): boolean {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am < bm || (am === bm && as < bs);
}

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
  now: () => number;
}

type Entry = [id: string, fields: string[]];
interface PlayerEvent {
  address: string;
  event: 'bet:confirmed' | 'bet:rejected' | 'bet:settled';
  data: unknown;
}

export function createWriter(deps: WriterDeps) {
  const log = deps.log.child({ module: 'writer' });
  let running = false;
  let loop: Promise<void> | undefined;
  let lastLoopAt = 0;

  /** One bet: idempotent on its id. Returns the row as committed (new or from an earlier run). */
  const commitBet = (c: BetCommand, now: number): { row: BetRow; fresh: boolean } => {
    if (betExists(deps.db, c.id)) return { row: getBet(deps.db, c.id) as BetRow, fresh: false };
    const base = { id: c.id, address: c.address, quoteId: c.quoteId, lowCents: c.lowCents, highCents: c.highCents, startMs: c.startMs, endMs: c.endMs, stake: c.stake, multiplierCents: c.multiplierCents, placedAt: c.placedAt, committedAt: now };
    let state: BetRow['state'] = 'open';
    let reason: string | null = null;
    try {
      postMovement(deps.db, { address: c.address, kind: 'bet-stake', amount: -c.stake, ref: `bet:${c.id}:stake`, meta: null }, now);
    } catch (err) {
      // The conditional debit refused (cache and book disagreed) or the account is gone: the bet
      // is rejected visibly and its reservation returned; nothing was debited.
      if (!(err instanceof AppError)) throw err;
      state = 'rejected';
      reason = err.code;
    }
    insertBet(deps.db, { ...base, state, payout: 0, reason });
    return { row: getBet(deps.db, c.id) as BetRow, fresh: true };
  };

  /** One settlement: only an open bet is settled; a repeat returns the bet as it stands. */
  const commitSettlement = (c: SettleCommand, now: number): BetRow | undefined => {
    const bet = getBet(deps.db, c.id);
    if (!bet) {
      log.error({ betId: c.id }, 'settlement for an unknown bet ignored');
      return undefined;
    }
    if (bet.state !== 'open') return bet;
    const payout = c.outcome === 'won' ? payoutOf(bet.stake, bet.multiplierCents) : c.outcome === 'void' ? bet.stake : 0;
    settleBet(deps.db, c.id, { state: c.outcome, payout, reason: c.reason, at: now });
    if (payout > 0) {
      const kind = c.outcome === 'won' ? 'bet-payout' : 'bet-refund';
      postMovement(deps.db, { address: bet.address, kind, amount: payout, ref: `bet:${c.id}:${c.outcome === 'won' ? 'payout' : 'refund'}`, meta: { reason: c.reason } }, now);
    }
    return getBet(deps.db, c.id);
  };

  const publicBet = (b: BetRow) => ({ id: b.id, state: b.state, stake: b.stake, multiplierCents: b.multiplierCents, payout: b.payout, reason: b.reason, lowCents: b.lowCents, highCents: b.highCents, startMs: b.startMs, endMs: b.endMs, placedAt: b.placedAt, committedAt: b.committedAt, settledAt: b.settledAt });

  async function processBatch(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const commands: { id: string; cmd: WriterCommand }[] = [];
    const dead: Entry[] = [];
    for (const [id, fields] of entries) {
      try {
        // A pending entry whose data is gone from the stream is read back as [id, null].
        if (!fields) throw new Error('entry data missing');
        const raw = fields[fields.indexOf('c') + 1];
        commands.push({ id, cmd: decodeCommand(raw ?? '') });
      } catch {
        dead.push([id, fields]);
      }
    }

    const now = deps.now();
    const started = performance.now();
    const effects: Effect[] = [];
    const events: PlayerEvent[] = [];
    const loads: string[] = [];
    let bets = 0;
    deps.db.write(() => {
      for (const { cmd } of commands) {
        if (cmd.t === 'bet') {
          bets += 1;
          const { row, fresh } = commitBet(cmd, now);
          effects.push(reservationEffect(row));
          if (fresh) {
            deps.metrics.bets.inc({ outcome: row.state === 'rejected' ? 'rejected' : 'committed' });
            events.push({ address: row.address, event: row.state === 'rejected' ? 'bet:rejected' : 'bet:confirmed', data: publicBet(row) });
          }
        } else if (cmd.t === 'settle') {
          const row = commitSettlement(cmd, now);
          const effect = row && settlementEffect(row);
          if (row && effect) {
            effects.push(effect);
            events.push({ address: row.address, event: 'bet:settled', data: publicBet(row) });
          }
        } else if (cmd.t === 'load') {
          loads.push(cmd.address);
        }
      }
    });
    deps.metrics.commitSeconds.observe((performance.now() - started) / 1000);
    deps.metrics.batchSize.observe(entries.length);

    // After the commit: cache effects (exactly once each), balance loads, ack, tell the players.
    await deps.bookkeeper.apply(effects);
    for (const address of new Set(loads)) {
      await deps.bookkeeper.load(address, findUser(deps.db, address)?.balance ?? 0, false);
    }
    const pipe = deps.redis.pipeline();
    for (const [id, fields] of dead) pipe.xadd(DEAD_LETTERS, '*', 'from', id, ...(fields ?? ['missing', '1']));
    pipe.xack(WRITER_STREAM, WRITER_GROUP, ...entries.map(([id]) => id));
    for (const e of events) pipe.publish(deps.channels.userEvents, JSON.stringify(e));
    pipe.xpending(WRITER_STREAM, WRITER_GROUP);
    const results = await pipe.exec();
    // Drop what is done from the stream: everything before the newest acked id, but never an entry
    // still pending (delivered by a read whose reply was lost): its data is needed to process it.
    const [summaryErr, summary] = results?.at(-1) ?? [new Error('no reply')];
    if (!summaryErr) {
      const [count, oldestPending] = summary as [number, string | null];
      const newest = (entries.at(-1) as Entry)[0];
      const before = Number(count) > 0 && oldestPending && streamIdBefore(oldestPending, newest) ? oldestPending : newest;
      await deps.redis.xtrim(WRITER_STREAM, 'MINID', '~', before);
    }
    if (dead.length) log.error({ count: dead.length }, 'unreadable queue entries moved to writer:dead');
    if (bets) deps.metrics.lastCommit.set(Date.now() / 1000);
  }

  const read = async (id: '0' | '>', block: boolean): Promise<Entry[]> => {
    const args: (string | number)[] = ['GROUP', WRITER_GROUP, CONSUMER, 'COUNT', deps.batchMax];
    if (block) args.push('BLOCK', 50);
    const res = (await deps.reader.call('XREADGROUP', ...args, 'STREAMS', WRITER_STREAM, id)) as [string, Entry[]][] | null;
    return res?.[0]?.[1] ?? [];
  };

  return {
    /** Create the consumer group, finish what a previous run left unacknowledged, rebuild the cache. */
    async recover(): Promise<{ redelivered: number; accounts: number }> {
      // ioredis does not prefix the key of XGROUP subcommands: name it in full.
      const stream = `${deps.redis.options.keyPrefix ?? ''}${WRITER_STREAM}`;
      await deps.redis.call('XGROUP', 'CREATE', stream, WRITER_GROUP, '0', 'MKSTREAM').catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
      let redelivered = 0;
      for (;;) {
        const pending = await read('0', false);
        if (pending.length === 0) break;
        redelivered += pending.length;
        await processBatch(pending);
      }
      // Rebuild every balance cache: SQLite balance − stakes still queued (atomic per address).
      let accounts = 0;
      for (const u of deps.db.raw.prepare('SELECT address, balance FROM users').iterate() as IterableIterator<{ address: string; balance: number }>) {
        await deps.bookkeeper.load(u.address, u.balance, true);
        accounts += 1;
      }
      return { redelivered, accounts };
    },
    start(): void {
      running = true;
      loop = (async () => {
        while (running) {
          lastLoopAt = Date.now();
          try {
            // Our own unacknowledged entries first: a batch whose bookkeeping or ack failed (Redis
            // went away), or entries a read delivered whose reply was lost (or re-sent by the client
            // library after a reconnect). Reading only new entries ('>') would strand them until a
            // restart: bets accepted but never committed, stakes pending forever.
            const pending = await read('0', false);
            const entries = pending.length ? pending : await read('>', true);
            await processBatch(entries);
            const depth = await deps.redis.xlen(WRITER_STREAM);
            deps.metrics.queueDepth.set(depth);
            await deps.redis.set(betKeys.writerHeartbeat, String(Date.now()), 'PX', 30_000);
          } catch (err) {
            // SQLite failures and Redis outages alike: nothing was acked, so it is all retried.
            log.error({ err: (err as Error).message }, 'batch failed; retrying');
            await new Promise((r) => setTimeout(r, 200));
          }
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
