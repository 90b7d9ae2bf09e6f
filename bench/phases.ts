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
export type { Pauses, WriterStats } from './measure.js';
import { forksBetween, redisCommands, redisForks, redisMemory, watchPauses, writerBetween, writerStats } from './measure.js';
import { monitorCpu, startNode, waitForOutput, type CpuUse } from './procs.js';
import { metricValue, scrape, startBareKoa, type Stack } from './stack.js';
import { betScript, getScript, startWrk, type WrkResult } from './wrk.js';

export interface BenchOptions {
  /** Open-loop phase length, s (BENCH_DURATION_S). */
  durationS: number;
  /** Open-loop rate, bets/s (BENCH_RATE). */
  rate: number;
  /** The relative open loop's rate as a share of the saturated committed rate (BENCH_RELATIVE_SHARE). */
  relativeShare?: number;
  /** Run the phases through nginx (BENCH_EDGE, default on). */
  edge?: boolean;
  /** Measured length of each wrk run, s (BENCH_SATURATED_S). */
  saturatedS: number;
  /** Unmeasured run before each measured one, s (BENCH_WARMUP_S): wrk before a saturated run, the open loop at its rate before its measured taps. */
  warmupS: number;
  players: number;
  /** wrk connections and threads (BENCH_CONNECTIONS, BENCH_WRK_THREADS). */
  connections: number;
  threads: number;
  /** Keep-alive connections of the open-loop generator (BENCH_OPEN_CONNECTIONS). */
  openConnections: number;
  /** Run the API and the writer under --cpu-prof and summarise one window: BENCH_PROFILE=1 the saturated run, =relative the half-rate open loop. */
  profile: false | 'saturated' | 'relative';
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

export async function phaseBareKoa(opts: BenchOptions, dir: string): Promise<{ wrk: WrkResult; cpu: CpuUse }> {
  step('1 bare koa reference');
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

/** Where a phase sends its load: the API directly, or the front door (nginx) for the edge phases. */
export interface Target {
  /** Shown in the progress lines. */
  label: string;
  /** Base URL of the taps (default: the API). */
  apiUrl?: string;
  /** Base URL of the socket.io clients (default: the realtime service). */
  realtimeUrl?: string;
  /** CA file for https URLs. */
  caFile?: string;
  /** More processes to charge CPU to, e.g. nginx's master and workers. */
  extraPids?: Record<string, number[]>;
}

export type SaturatedResult = Awaited<ReturnType<typeof phaseSaturated>>;
export type OpenLoopPhase = Awaited<ReturnType<typeof phaseOpenLoop>>;

export async function phaseSaturated(opts: BenchOptions, s: Stack, db: Db, dir: string, target: Target) {
  step(`${target.label}: saturated POST /api/bets (${opts.saturatedS} s after ${opts.warmupS} s warm-up)`);
  const script = betScript(dir, { tokens: s.players.map((p) => p.token), quoteId: s.quote.id, cells: s.cells, stake: STAKE });
  const base = { url: target.apiUrl ?? s.apiUrl, connections: opts.connections, threads: opts.threads, script };
  await startWrk({ ...base, seconds: opts.warmupS }).result;
  await drain(db, await acceptedOf(s));

  const [accepted0, writer0, mem0] = [await acceptedOf(s), await writerStats(s), await redisMemory(s)];
  await s.redis.config('RESETSTAT');
  const [pauses, forks0] = [await watchPauses(s), await redisForks(s)];
  const rows0 = rowsOf(db);
  const from = { t: performance.now(), us: hrUs() };
  const w = startWrk({ ...base, seconds: opts.saturatedS });
  const mon = monitorCpu({ api: s.api.pid, writer: s.writer.pid, realtime: s.realtime.pid, redis: s.redisPid, ...target.extraPids, wrk: w.pid, bench: process.pid }, ['redis']);
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

/** `rate` bets/s for `opts.durationS` s from the open-loop generator (its own process). */
export async function phaseOpenLoop(opts: BenchOptions, s: Stack, db: Db, dir: string, target: Target & { rate: number; tag: string }) {
  if (!Number.isFinite(target.rate) || target.rate <= 0) throw new Error(`${target.label}: no rate to run the open loop at (${target.rate})`);
  const rate = Math.max(1, Math.round(target.rate));
  step(`${target.label}: open loop ${rate}/s for ${opts.durationS} s after ${opts.warmupS} s warm-up`);
  const cfg: OpenLoopConfig = {
    apiUrl: target.apiUrl ?? s.apiUrl,
    realtimeUrl: target.realtimeUrl ?? s.realtimeUrl,
    ...(target.caFile ? { caFile: target.caFile } : {}),
    players: s.players,
    quoteId: s.quote.id,
    cells: s.cells.map((c) => ({ row: c.row, col: c.col })),
    stake: STAKE,
    rate,
    seconds: opts.durationS,
    warmupSeconds: opts.warmupS,
    connections: opts.openConnections,
    idsFile: path.join(dir, `open-loop-${target.tag}-ids.txt`),
    idempotencyKeys: opts.idempotencyKeys ?? false,
    resultFile: path.join(dir, `open-loop-${target.tag}-result.json`),
  };
  const cfgFile = path.join(dir, `open-loop-${target.tag}.json`);
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const gen = startNode('load generator', 'bench/open-loop.js', { BENCH_OPEN_CONFIG: cfgFile });
  // After the sockets connect, near the end of the warm-up (open-loop.ts, WINDOW_LEAD_MS): the
  // windows below cover the measured taps and that lead, all at the same rate.
  await waitForOutput(gen, /BENCH_OPEN window/, 30_000 + opts.warmupS * 1000);
  const [pauses, forks0, writer0] = [await watchPauses(s), await redisForks(s), await writerStats(s)];
  const rows0 = rowsOf(db);
  const t0 = performance.now();
  const fromUs = hrUs();
  const mon = monitorCpu({ api: s.api.pid, writer: s.writer.pid, realtime: s.realtime.pid, redis: s.redisPid, ...target.extraPids, 'load gen': gen.pid, bench: process.pid }, ['redis']);
  await waitForOutput(gen, /BENCH_OPEN sent/, (opts.durationS + 60) * 1000);
  const cpu = mon.stop();
  const window = { fromUs, toUs: hrUs() };
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
  return { rate, result, cpu, committedPerS, missingRows, pauses: paused, forks, writer: writerBetween(writer0, writer1), window };
}

export async function finalAccounting(s: Stack, db: Db) {
  step('stopping the services; accounting and the integrity check');
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
