/**
 * Admission control for taps: refuse with a coded 503 and Retry-After *before* a resource runs
 * out, instead of failing once it has. Sampled once a second (never on the tap path itself):
 * Redis memory against its maxmemory (the rest is the writer's headroom), the writer's backlog,
 * and free space on the data volume against the same floor `tapstack setup` checks.
 */
import fs from 'node:fs';
import { Gauge } from 'prom-client';
import { WRITER_STREAM } from '../shared/redis-names.js';
import type { Config } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Metrics } from '../shared/metrics.js';
import type { Redis } from '../shared/redis.js';

export interface AdmissionState {
  redisUsedBytes: number;
  redisMaxBytes: number;
  backlog: number;
  dataFreeBytes: number;
  sampledAt: number;
}

export interface Admission {
  /** Throws the coded 503 if taps must be refused now. */
  check(): void;
  state(): AdmissionState | undefined;
  sample(): Promise<void>;
  stop(): void;
}

const SAMPLE_MS = 1000;

export function createAdmission(deps: { config: Config; redis: Redis; log: Logger; metrics: Metrics }): Admission {
  const log = deps.log.child({ module: 'admission' });
  const { redisMemoryPercent, writerBacklog } = deps.config.admission;
  const floorBytes = deps.config.appliance.dataMinFreeMb * 1024 * 1024;
  const refusing = new Gauge({ name: 'tapstack_admission_refusing', help: 'Whether taps are being refused, by reason (1 = refusing)', labelNames: ['reason'], registers: [deps.metrics.registry] });
  const freeGauge = new Gauge({ name: 'tapstack_data_free_bytes', help: 'Free bytes on the data volume as the API sees it', registers: [deps.metrics.registry] });
  // Redis memory as the API sees it (the same numbers admission decides on).
  const redisUsed = new Gauge({ name: 'tapstack_redis_used_memory_bytes', help: 'Redis used_memory as the API samples it once a second', registers: [deps.metrics.registry] });
  const redisMax = new Gauge({ name: 'tapstack_redis_maxmemory_bytes', help: 'Redis maxmemory (0 = no cap) as the API samples it', registers: [deps.metrics.registry] });
  let current: AdmissionState | undefined;
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const sample = async () => {
    const [info, backlog] = await Promise.all([deps.redis.info('memory'), deps.redis.xlen(WRITER_STREAM)]);
    const num = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    const st = fs.statfsSync(deps.config.dataDir);
    current = { redisUsedBytes: num('used_memory'), redisMaxBytes: num('maxmemory'), backlog, dataFreeBytes: st.bavail * st.bsize, sampledAt: Date.now() };
    freeGauge.set(current.dataFreeBytes);
    redisUsed.set(current.redisUsedBytes);
    redisMax.set(current.redisMaxBytes);
  };

  const verdict = (s: AdmissionState): AppError | undefined => {
    if (s.dataFreeBytes < floorBytes) {
      return new AppError(503, 'disk-low', 'the appliance is low on disk space and is not taking taps: retry later', { retryAfterSeconds: 30 });
    }
    if (s.redisMaxBytes > 0 && s.redisUsedBytes * 100 > s.redisMaxBytes * redisMemoryPercent) {
      return new AppError(503, 'capacity', 'the appliance is at capacity: retry in a moment', { retryAfterSeconds: 2 });
    }
    if (s.backlog > writerBacklog) return new AppError(503, 'capacity', 'the appliance is busy committing bets: retry in a moment', { retryAfterSeconds: 2 });
    return undefined;
  };

  const loop = async () => {
    if (stopped) return;
    try {
      await sample();
    } catch (err) {
      // Redis away: the tap itself then fails with its own coded 503; keep the last sample.
      log.debug({ err: (err as Error).message }, 'admission sample failed');
    }
    const v = current && verdict(current);
    const reason = v ? v.code : undefined;
    if (reason !== last) {
      if (reason) log.warn({ reason, ...current }, 'refusing taps');
      else if (last) log.info({ ...current }, 'taking taps again');
      for (const r of ['disk-low', 'capacity']) refusing.set({ reason: r }, r === reason ? 1 : 0);
      last = reason;
    }
    if (!stopped) timer = setTimeout(() => void loop(), SAMPLE_MS).unref();
  };
  void loop();

  return {
    check() {
      const v = current && verdict(current);
      if (v) throw v;
    },
    state: () => current,
    sample,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
