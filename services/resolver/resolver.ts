/**
 * The resolver: decides open bets whose window has ended and hands each verdict to the single
 * writer as a `SettleCommand` on its queue. It never writes SQLite (its handle is read-only) and
 * never moves money; settlement is idempotent on the writer side (only an `open` bet is settled), so
 * sending a verdict twice is harmless and sending it again after a loss is the recovery.
 *
 * One pass (`runOnce`):
 * 1. the oldest `batchSize` open bets whose window ended at least `graceMs` ago, minus those whose
 *    verdict was sent less than `inFlightMs` ago (the writer has not applied it yet). Because the
 *    in-flight ones still fill the batch, a writer that falls behind slows the resolver down instead
 *    of growing its queue;
 * 2. a window is complete once a tick received after its end exists (stream ids only grow, so no
 *    earlier tick can still appear). While the feed is fresh and no such tick exists, its bets wait;
 *    a stale feed (no price for `staleAfterMs`, read from the breaker record) will not bring one, so
 *    they are decided with what exists, and so are windows that ended `maxWaitMs` ago whatever the
 *    feed says (a safety net against a breaker record from a skewed clock);
 * 3. ticks are read once per distinct window, [startMs − staleAfterMs, endMs]: the earliest price that
 *    can still prevail at startMs up to the last that counts (see decide.ts);
 * 4. one XADD per bet in one pipeline (allow-oom: queue.ts); each bet that was queued is remembered
 *    as in flight.
 */
import type { SettleCommand } from '../shared/betting/commands.js';
import { createQueue } from '../shared/betting/queue.js';
import type { Config } from '../shared/config.js';
import type { Db } from '../shared/db/database.js';
import type { Logger } from '../shared/logger.js';
import { loadBreaker } from '../shared/market/breaker-store.js';
import type { TickStore } from '../shared/market/tick-store.js';
import type { Redis } from '../shared/redis.js';
import { openBetsEndedBy, type BetRow } from '../shared/repos/bets.repo.js';
import { decideBet } from './decide.js';
import type { ResolverMetrics } from './metrics.js';

export interface ResolverDeps {
  config: Config;
  log: Logger;
  /** Read-only handle on the primary database. */
  db: Db;
  redis: Redis;
  ticks: TickStore;
  now: () => number;
  metrics: ResolverMetrics;
  /** Most bets looked at per pass (default 2000). */
  batchSize?: number;
  /** A bet whose verdict was queued is not re-sent for this long (default 10 s). */
  inFlightMs?: number;
}

export interface RunResult {
  /** Settle commands queued in this pass. */
  decided: number;
  /** Ended bets held back: the feed is fresh but no tick after their window has arrived yet. */
  waiting: number;
}

export interface Resolver {
  runOnce(): Promise<RunResult>;
  /** Clock time the last successful pass finished (undefined before the first), and bets in flight. */
  status(): { lastRunAt: number | undefined; inFlight: number };
}

interface WindowGroup {
  startMs: number;
  endMs: number;
  bets: BetRow[];
}

export function createResolver(deps: ResolverDeps): Resolver {
  const log = deps.log.child({ module: 'resolver' });
  const { graceMs, maxWaitMs } = deps.config.resolver;
  const staleAfterMs = deps.config.breaker.staleAfterMs;
  const batchSize = deps.batchSize ?? 2000;
  const inFlightMs = deps.inFlightMs ?? 10_000;
  /** Bet id → time after which its verdict may be sent again. */
  const inFlight = new Map<string, number>();
  let lastRunAt: number | undefined;
  // Settlements go on even while Redis is at its cap (taps are refused then): allow-oom enqueue.
  const queue = createQueue(deps.redis);

  const finish = (now: number, result: RunResult): RunResult => {
    lastRunAt = now;
    deps.metrics.lastRun.set(now / 1000);
    deps.metrics.waiting.set(result.waiting);
    return result;
  };

  async function runOnce(): Promise<RunResult> {
    const started = deps.now();
    for (const [id, until] of inFlight) if (until <= started) inFlight.delete(id);
    const bets = openBetsEndedBy(deps.db, started - graceMs, batchSize).filter((b) => !inFlight.has(b.id));
    if (bets.length === 0) return finish(deps.now(), { decided: 0, waiting: 0 });

    const [newest, breaker] = await Promise.all([deps.ticks.last(), loadBreaker(deps.redis, started)]);
    // Freshness, not the breaker's state: during its recovery period the feed is alive and the
    // tick we wait for is coming.
    const feedFresh = breaker.lastPriceTs !== null && started - breaker.lastPriceTs <= staleAfterMs;
    const complete = (endMs: number) => (newest !== undefined && newest.ts > endMs) || !feedFresh || started - endMs >= maxWaitMs;

    const groups = new Map<string, WindowGroup>();
    let waiting = 0;
    for (const b of bets) {
      if (!complete(b.endMs)) {
        waiting++;
        continue;
      }
      const key = `${b.startMs}:${b.endMs}`;
      const g = groups.get(key);
      if (g) g.bets.push(b);
      else groups.set(key, { startMs: b.startMs, endMs: b.endMs, bets: [b] });
    }
    if (groups.size === 0) return finish(deps.now(), { decided: 0, waiting });

    // Concurrent XRANGEs: ioredis writes them back to back, so they share one round trip.
    const windows = [...groups.values()];
    const series = await Promise.all(windows.map((w) => deps.ticks.range(w.startMs - staleAfterMs, w.endMs)));

    const decidedAt = deps.now();
    const commands: SettleCommand[] = [];
    const ends: number[] = [];
    windows.forEach((w, i) => {
      const ticks = series[i] ?? [];
      let voided = 0;
      for (const b of w.bets) {
        const d = decideBet(b, ticks, { staleAfterMs });
        if (d.outcome === 'void') voided++;
        commands.push({ t: 'settle', id: b.id, outcome: d.outcome, reason: d.reason, decidedAt });
        ends.push(b.endMs);
      }
      if (voided > 0) log.warn({ startMs: w.startMs, endMs: w.endMs, ticks: ticks.length, voided }, 'bets voided: the window overlaps a feed gap');
    });

    const pipeline = deps.redis.pipeline();
    for (const c of commands) queue.inPipeline(pipeline, c);
    const results = (await pipeline.exec()) ?? [];
    let decided = 0;
    let failed = 0;
    commands.forEach((c, i) => {
      const r = results[i];
      if (!r || r[0]) {
        failed++;
        return; // not queued: picked up again next pass
      }
      decided++;
      inFlight.set(c.id, decidedAt + inFlightMs);
      deps.metrics.decided.inc({ outcome: c.outcome });
      deps.metrics.lag.observe(Math.max(0, decidedAt - (ends[i] as number)) / 1000);
    });
    if (failed > 0) {
      const err = results.find((r) => r?.[0])?.[0];
      log.error({ failed, err: err?.message }, 'some settle commands were not queued; retrying next pass');
      if (decided === 0) throw err ?? new Error('settle commands not queued');
    }
    log.debug({ decided, waiting, windows: windows.length }, 'resolver pass');
    return finish(deps.now(), { decided, waiting });
  }

  return { runOnce, status: () => ({ lastRunAt, inFlight: inFlight.size }) };
}
