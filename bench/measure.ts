/**
 * What the bench reads from the running services over a window: the writer's histograms, Redis
 * command stats, persistence forks and memory, event-loop delay and GC of the Node services.
 */
import { metricValue, scrape, type Stack } from './stack.js';
import { EVENT_LOOP_RESOLUTION_MS } from '../services/shared/metrics.js';

export interface WriterStats {
  batches: number;
  entries: number;
  commitSeconds: number;
  /** Transactions that took longer than 25 ms and 100 ms (from the histogram buckets). */
  over25ms: number;
  over100ms: number;
}

export async function writerStats(s: Stack): Promise<WriterStats> {
  const m = await scrape(s.writerProbeUrl);
  const count = metricValue(m, 'tapstack_writer_commit_seconds_count');
  return {
    batches: metricValue(m, 'tapstack_writer_batch_size_count'),
    entries: metricValue(m, 'tapstack_writer_batch_size_sum'),
    commitSeconds: metricValue(m, 'tapstack_writer_commit_seconds_sum'),
    over25ms: count - metricValue(m, 'tapstack_writer_commit_seconds_bucket', { le: '0.025' }),
    over100ms: count - metricValue(m, 'tapstack_writer_commit_seconds_bucket', { le: '0.1' }),
  };
}

export const writerBetween = (a: WriterStats, b: WriterStats): WriterStats => ({
  batches: b.batches - a.batches,
  entries: b.entries - a.entries,
  commitSeconds: b.commitSeconds - a.commitSeconds,
  over25ms: b.over25ms - a.over25ms,
  over100ms: b.over100ms - a.over100ms,
});

/** Redis time per command since the last CONFIG RESETSTAT, largest first. */
export async function redisCommands(s: Stack): Promise<{ command: string; calls: number; usec: number }[]> {
  const info = await s.redis.info('commandstats');
  const out: { command: string; calls: number; usec: number }[] = [];
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) out.push({ command: m[1] as string, calls: Number(m[2]), usec: Number(m[3]) });
  return out.sort((a, b) => b.usec - a.usec);
}

export interface Pauses {
  /** Event-loop delay over the window (prom-client's histogram, reset at every scrape), ms. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** Time spent in GC over the window, ms per s. */
  gcMsPerS: number;
}

/** A delay histogram figure (seconds, sampling interval included) as the delay beyond the interval, ms. */
export const loopDelayMs = (seconds: number): number => Math.max(0, seconds * 1000 - EVENT_LOOP_RESOLUTION_MS);

/**
 * Event-loop delay and GC of the API, writer and realtime over a window: call once at the start
 * (resets the delay histograms) and use `end()` at its end.
 */
export async function watchPauses(s: Stack): Promise<{ end(): Promise<Record<string, Pauses>> }> {
  const urls: Record<string, string> = { api: s.apiUrl, writer: s.writerProbeUrl, realtime: s.realtimeUrl };
  const gc = (text: string) => metricValue(text, 'nodejs_gc_duration_seconds_sum');
  const start: Record<string, number> = {};
  for (const [name, url] of Object.entries(urls)) start[name] = gc(await scrape(url));
  const t0 = performance.now();
  return {
    async end() {
      const seconds = (performance.now() - t0) / 1000;
      const out: Record<string, Pauses> = {};
      for (const [name, url] of Object.entries(urls)) {
        const m = await scrape(url);
        out[name] = {
          lagP99Ms: loopDelayMs(metricValue(m, 'nodejs_eventloop_lag_p99_seconds')),
          lagMaxMs: loopDelayMs(metricValue(m, 'nodejs_eventloop_lag_max_seconds')),
          gcMsPerS: ((gc(m) - (start[name] ?? 0)) * 1000) / seconds,
        };
      }
      return out;
    },
  };
}

/** Forks Redis made for persistence (RDB snapshots, AOF rewrites) so far. */
export async function redisForks(s: Stack): Promise<{ rdb: number; aofRewrites: number }> {
  const info = await s.redis.info('persistence');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return { rdb: field('rdb_saves'), aofRewrites: field('aof_rewrites') };
}

export const forksBetween = (a: { rdb: number; aofRewrites: number }, b: { rdb: number; aofRewrites: number }) => ({ rdb: b.rdb - a.rdb, aofRewrites: b.aofRewrites - a.aofRewrites });

export async function redisMemory(s: Stack): Promise<number> {
  const info = await s.redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

