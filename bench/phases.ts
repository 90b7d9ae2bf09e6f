/**
 * The four phases of the bench (see run.ts for the order and bench/README.md for the meaning of
 * every figure). Each returns its raw figures; report.ts prints them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../services/shared/db/database.js';
import { checkIntegrity } from '../services/shared/integrity.js';
import { betKeys } from '../services/shared/redis-names.js';
import { betCounts } from '../services/shared/repos/bets.repo.js';
import { summariseProfile, type ProfileSummary } from './cpu-profile.js';
import type { OpenLoopConfig, OpenLoopResult } from './open-loop.js';
import { monitorCpu, startNode, waitForOutput, type CpuUse } from './procs.js';
import { metricValue, scrape, startBareKoa, type Stack } from './stack.js';
import { betScript, getScript, startWrk, type WrkResult } from './wrk.js';

export interface BenchOptions {
  /** Open-loop phase length, s (BENCH_DURATION_S). */
  durationS: number;
  /** Open-loop rate, bets/s (BENCH_RATE). */
  rate: number;
  /** Measured length of each wrk run, s (BENCH_SATURATED_S). */
  saturatedS: number;
  /** Unmeasured wrk run before each measured one, s (BENCH_WARMUP_S). */
  warmupS: number;
  players: number;
  /** wrk connections and threads (BENCH_CONNECTIONS, BENCH_WRK_THREADS). */
  connections: number;
  threads: number;
  /** Keep-alive connections of the open-loop generator (BENCH_OPEN_CONNECTIONS). */
  openConnections: number;
  /** Run the API and the writer under --cpu-prof and summarise the saturated window (BENCH_PROFILE=1). */
  profile: boolean;
  keep: boolean;
  /** Send an Idempotency-Key with every open-loop tap (as clients should; bench:soak does). */
  idempotencyKeys?: boolean;
}

/** Minimum stake (0.10): the bench measures throughput, not balances. */
export const STAKE = 10;

const hrUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const step = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** Rows in the bets table (rowids only grow: nothing is deleted during a run). */
export const rowsOf = (db: Db) => (db.raw.prepare('SELECT COALESCE(MAX(rowid), 0) AS n FROM bets').get() as { n: number }).n;
const acceptedOf = async (s: Stack) => metricValue(await scrape(s.apiUrl), 'tapstack_bets_placed_total', { outcome: 'accepted' });

/** Wait until every accepted bet has its row; resolves with how long that took (ms), or NaN. */
async function drain(db: Db, accepted: number, timeoutMs = 180_000): Promise<number> {
  const started = performance.now();
  while (rowsOf(db) < accepted) {
    if (performance.now() - started > timeoutMs) return Number.NaN;
    await sleep(25);
  }
  return performance.now() - started;
}

export interface WriterStats {
  batches: number;
  entries: number;
  commitSeconds: number;
  /** Transactions that took longer than 25 ms and 100 ms (from the histogram buckets). */
  over25ms: number;
  over100ms: number;
}

async function writerStats(s: Stack): Promise<WriterStats> {
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

const writerBetween = (a: WriterStats, b: WriterStats): WriterStats => ({
  batches: b.batches - a.batches,
  entries: b.entries - a.entries,
  commitSeconds: b.commitSeconds - a.commitSeconds,
  over25ms: b.over25ms - a.over25ms,
  over100ms: b.over100ms - a.over100ms,
});

/** Redis time per command since the last CONFIG RESETSTAT, largest first. */
async function redisCommands(s: Stack): Promise<{ command: string; calls: number; usec: number }[]> {
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

/**
 * Event-loop delay and GC of the API, writer and realtime over a window: call once at the start
 * (resets the delay histograms) and use `end()` at its end.
 */
async function watchPauses(s: Stack): Promise<{ end(): Promise<Record<string, Pauses>> }> {
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
          lagP99Ms: metricValue(m, 'nodejs_eventloop_lag_p99_seconds') * 1000,
          lagMaxMs: metricValue(m, 'nodejs_eventloop_lag_max_seconds') * 1000,
          gcMsPerS: ((gc(m) - (start[name] ?? 0)) * 1000) / seconds,
        };
      }
      return out;
    },
  };
}

/** Forks Redis made for persistence (RDB snapshots, AOF rewrites) so far. */
async function redisForks(s: Stack): Promise<{ rdb: number; aofRewrites: number }> {
  const info = await s.redis.info('persistence');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return { rdb: field('rdb_saves'), aofRewrites: field('aof_rewrites') };
}

const forksBetween = (a: { rdb: number; aofRewrites: number }, b: { rdb: number; aofRewrites: number }) => ({ rdb: b.rdb - a.rdb, aofRewrites: b.aofRewrites - a.aofRewrites });

async function redisMemory(s: Stack): Promise<number> {
  const info = await s.redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

export async function phaseBareKoa(opts: BenchOptions, dir: string): Promise<{ wrk: WrkResult; cpu: CpuUse }> {
  step('1/4 bare koa reference');
  const bare = await startBareKoa();
  try {
    const base = { url: bare.url, connections: opts.connections, threads: opts.threads, script: getScript(dir) };
    await startWrk({ ...base, seconds: opts.warmupS }).result;
    const w = startWrk({ ...base, seconds: opts.saturatedS });
    const mon = monitorCpu({ 'bare koa': bare.child.pid, wrk: w.pid, bench: process.pid });
    const wrk = await w.result;
    return { wrk, cpu: mon.stop() };
  } finally {
    await bare.child.stop();
  }
}

export async function phaseSaturated(opts: BenchOptions, s: Stack, db: Db, dir: string) {
  step(`2/4 saturated POST /api/bets (${opts.saturatedS} s after ${opts.warmupS} s warm-up)`);
  const script = betScript(dir, { tokens: s.players.map((p) => p.token), quoteId: s.quote.id, cells: s.cells, stake: STAKE });
  const base = { url: s.apiUrl, connections: opts.connections, threads: opts.threads, script };
  await startWrk({ ...base, seconds: opts.warmupS }).result;
  await drain(db, await acceptedOf(s));

  const [accepted0, writer0, mem0] = [await acceptedOf(s), await writerStats(s), await redisMemory(s)];
  await s.redis.config('RESETSTAT');
  const [pauses, forks0] = [await watchPauses(s), await redisForks(s)];
  const rows0 = rowsOf(db);
  const from = { t: performance.now(), us: hrUs() };
  const w = startWrk({ ...base, seconds: opts.saturatedS });
  const mon = monitorCpu({ api: s.api.pid, writer: s.writer.pid, realtime: s.realtime.pid, redis: s.redisPid, wrk: w.pid, bench: process.pid }, ['redis']);
  const wrk = await w.result;
  const cpu = mon.stop();
  const window = { seconds: (performance.now() - from.t) / 1000, fromUs: from.us, toUs: hrUs() };
  const rows1 = rowsOf(db);
  // Pauses first: any /metrics scrape resets the event-loop delay histograms.
  const [paused, forks] = [await pauses.end(), forksBetween(forks0, await redisForks(s))];
  const accepted1 = await acceptedOf(s);
  const commands = await redisCommands(s);
  const drainMs = await drain(db, accepted1);
  const [writer1, mem1] = [await writerStats(s), await redisMemory(s)];
  const bets = accepted1 - accepted0;
  return {
    wrk,
    cpu,
    window,
    acceptedPerS: bets / window.seconds,
    committedPerS: (rows1 - rows0) / window.seconds,
    backlogAtEnd: accepted1 - rows1,
    drainMs,
    writer: writerBetween(writer0, writer1),
    redisCommands: commands,
    pauses: paused,
    forks,
    redisBytesPerBet: bets > 0 ? (mem1 - mem0) / bets : Number.NaN,
    redisBytes: mem1,
  };
}

export async function phaseOpenLoop(opts: BenchOptions, s: Stack, db: Db, dir: string) {
  step(`3/4 open loop ${opts.rate}/s for ${opts.durationS} s`);
  const cfg: OpenLoopConfig = {
    apiUrl: s.apiUrl,
    realtimeUrl: s.realtimeUrl,
    players: s.players,
    quoteId: s.quote.id,
    cells: s.cells.map((c) => ({ row: c.row, col: c.col })),
    stake: STAKE,
    rate: opts.rate,
    seconds: opts.durationS,
    connections: opts.openConnections,
    idsFile: path.join(dir, 'open-loop-ids.txt'),
    idempotencyKeys: opts.idempotencyKeys ?? false,
    resultFile: path.join(dir, 'open-loop-result.json'),
  };
  const cfgFile = path.join(dir, 'open-loop.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const gen = startNode('load generator', 'bench/open-loop.js', { BENCH_OPEN_CONFIG: cfgFile });
  await waitForOutput(gen, /BENCH_OPEN started/, 30_000);
  const [pauses, forks0, writer0] = [await watchPauses(s), await redisForks(s), await writerStats(s)];
  const rows0 = rowsOf(db);
  const t0 = performance.now();
  const mon = monitorCpu({ api: s.api.pid, writer: s.writer.pid, realtime: s.realtime.pid, redis: s.redisPid, 'load gen': gen.pid, bench: process.pid }, ['redis']);
  await waitForOutput(gen, /BENCH_OPEN sent/, (opts.durationS + 60) * 1000);
  const cpu = mon.stop();
  const committedPerS = (rowsOf(db) - rows0) / ((performance.now() - t0) / 1000);
  const [paused, forks, writer1] = [await pauses.end(), forksBetween(forks0, await redisForks(s)), await writerStats(s)];
  const code = await gen.exited;
  if (code !== 0) throw new Error(`the open-loop generator failed (${code}):\n${gen.output()}`);
  const result = JSON.parse(fs.readFileSync(cfg.resultFile, 'utf8')) as OpenLoopResult;
  await drain(db, await acceptedOf(s));
  // Every bet this phase got a 202 for must have its row.
  const has = db.raw.prepare('SELECT 1 FROM bets WHERE id = ?');
  const ids = fs.readFileSync(cfg.idsFile, 'utf8').split('\n').filter(Boolean);
  const missingRows = ids.filter((id) => has.get(id) === undefined).length;
  return { result, cpu, committedPerS, missingRows, pauses: paused, forks, writer: writerBetween(writer0, writer1) };
}

export async function finalAccounting(s: Stack, db: Db) {
  step('4/4 stopping the services; accounting and the integrity check');
  const accepted = await acceptedOf(s);
  const refused = metricValue(await scrape(s.apiUrl), 'tapstack_bets_placed_total') - accepted;
  await s.api.stop();
  const drainMs = await drain(db, accepted);
  await s.writer.stop(30_000);
  await s.realtime.stop();
  // The balance cache must agree with the book once nothing is queued.
  const book = new Map((db.raw.prepare('SELECT address, balance FROM users').all() as { address: string; balance: number }[]).map((u) => [u.address, u.balance]));
  let cacheMatches = 0;
  let pendingStakes = 0;
  for (const p of s.players) {
    if (Number(await s.redis.get(betKeys.balance(p.address))) === book.get(p.address)) cacheMatches += 1;
    pendingStakes += Number((await s.redis.get(betKeys.pending(p.address))) ?? 0);
  }
  const rows = rowsOf(db);
  const counts = betCounts(db);
  const integrity = checkIntegrity(db);
  return { accepted, refused, rows, counts, lost: accepted - rows, drainMs, integrity, cacheMatches, pendingStakes };
}

export function profiles(s: Stack, window: { fromUs: number; toUs: number }): Record<string, ProfileSummary> {
  const out: Record<string, ProfileSummary> = {};
  for (const name of ['api', 'writer']) {
    const file = path.join(s.profileDir, `${name}.cpuprofile`);
    if (fs.existsSync(file)) out[name] = summariseProfile(file, window);
  }
  return out;
}
