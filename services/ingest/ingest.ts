/**
 * The ingest pipeline: source events → median aggregation → settlement ticks in Redis (stream +
 * pub/sub) → breaker record. Only real price updates reach the breaker; heartbeats prove the link,
 * not the price. A monitor re-evaluates the breaker on a timer so it opens even when nothing arrives.
 */
import type { Channels } from '../shared/redis-names.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis.js';
import { evaluateBreaker, onPrice, stalenessSeconds, type BreakerConfig, type BreakerRecord } from '../shared/market/breaker.js';
import { loadBreaker, saveBreaker } from '../shared/market/breaker-store.js';
import type { MarketMetrics } from '../shared/market/metrics.js';
import type { TickStore } from '../shared/market/tick-store.js';
import type { FeedEvent, PriceSource, Tick } from '../shared/market/tick.js';

export interface IngestDeps {
  log: Logger;
  redis: Redis;
  ticks: TickStore;
  sources: PriceSource[];
  aggregator: { push(tick: Tick): Tick | undefined };
  breaker: BreakerConfig;
  market: MarketMetrics;
  channels: Channels;
  now: () => number;
  monitorEveryMs?: number;
}

export function createIngest(deps: IngestDeps) {
  const log = deps.log.child({ module: 'ingest' });
  let breaker: BreakerRecord | undefined;
  let timer: NodeJS.Timeout | undefined;
  let writeFailing = false;
  let lastSettlement: Tick | undefined;
  const connected = new Map<string, boolean>();

  /** Adopt the next record synchronously (no lost updates between ticks), then store it. */
  const advance = (next: BreakerRecord): Promise<void> => {
    const changed = breaker !== undefined && next.state !== breaker.state;
    breaker = next;
    if (changed) {
      deps.market.breakerTransitions.inc({ to: next.state });
      log.warn({ state: next.state, staleness: stalenessSeconds(next, deps.now()) }, `circuit breaker ${next.state === 'open' ? 'OPENED: taps refused' : 'closed: trading resumes'}`);
    }
    deps.market.breakerOpen.set(next.state === 'open' ? 1 : 0);
    return saveBreaker(deps.redis, next, changed ? deps.channels.breaker : undefined);
  };

  const writeFailed = (err: Error) => {
    if (!writeFailing) log.error({ err: err.message }, 'cannot write to redis; ticks are being lost until it recovers');
    writeFailing = true;
  };
  const writeOk = () => {
    if (writeFailing) log.info('redis writes recovered');
    writeFailing = false;
  };

  const onEvent = (e: FeedEvent) => {
    if (e.type === 'heartbeat') return void deps.market.sourceHeartbeats.inc({ source: e.source });
    if (e.type === 'status') {
      connected.set(e.source, e.connected);
      deps.market.sourceConnected.set({ source: e.source }, e.connected ? 1 : 0);
      log.info({ source: e.source, connected: e.connected, detail: e.detail }, e.connected ? 'source connected' : 'source disconnected');
      return;
    }
    deps.market.sourceTicks.inc({ source: e.tick.source });
    const settlement = deps.aggregator.push(e.tick);
    if (!settlement || !breaker) return;
    lastSettlement = settlement;
    deps.market.settlementPrice.set(settlement.priceCents);
    // The tick goes to the stream before the breaker record claims a fresh price.
    const appended = deps.ticks.append({ priceCents: settlement.priceCents, ts: settlement.recvTs });
    const saved = advance(onPrice(breaker, settlement.recvTs, deps.breaker));
    void Promise.all([appended, saved]).then(writeOk, writeFailed);
  };

  const monitor = () => {
    if (!breaker) return;
    const now = deps.now();
    const next = evaluateBreaker(breaker, now, deps.breaker);
    const s = stalenessSeconds(next, now);
    deps.market.breakerStaleness.set(Number.isFinite(s) ? s : -1);
    void advance(next).then(writeOk, writeFailed);
  };

  return {
    async start(): Promise<void> {
      // Resume the persisted record so a restart of ingest does not reset the recovery clock.
      breaker = await loadBreaker(deps.redis, deps.now());
      deps.market.breakerOpen.set(breaker.state === 'open' ? 1 : 0);
      for (const s of deps.sources) s.start(onEvent);
      timer = setInterval(monitor, deps.monitorEveryMs ?? 500);
      log.info({ sources: deps.sources.map((s) => s.name) }, 'ingest started');
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await Promise.all(deps.sources.map((s) => s.stop()));
    },
    status: () => ({ breaker, lastSettlement, connected: Object.fromEntries(connected), writeFailing }),
  };
}
