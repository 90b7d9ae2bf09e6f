/**
 * `npm run bench`: the betting path's throughput and latency on this machine, in one run.
 *   1. bare koa + @koa/router under wrk (the ceiling any Koa endpoint could reach here);
 *   2. POST /api/bets saturated by wrk through the real API, Redis and writer: accepted/s with
 *      latency, and committed bets/s counted in SQLite over the same window;
 *   3. an open loop at BENCH_RATE (3,000 bets/s) for 60 s: accept latency and tap-to-confirmation
 *      latency heard on socket.io clients of the real realtime service;
 *   4. the same open loop at BENCH_RELATIVE_SHARE (0.5) × the committed rate measured in 2;
 *   5. 2 again and 6. 4 again through the front door: the rendered nginx config over TLS (edge.ts);
 *   7. accepted vs committed (nothing lost), the ledger integrity check, the balance cache.
 * BENCH_RUNS=N runs all of it N times and adds the median table (median.ts).
 * Settings: bench/README.md. Every process it starts is stopped by PID, also on failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openDb } from '../services/shared/db/database.js';
import { startEdge } from './edge.js';
import { accountingOk, headline, type EdgeResults } from './headline.js';
import { runMedian } from './median.js';
import { finalAccounting, phaseBareKoa, phaseOpenLoop, phaseSaturated, profiles, STAKE, step, type BenchOptions } from './phases.js';
import { machineLoad } from './procs.js';
import { printReport } from './report.js';
import { envInt, envShare, runDirs, runEntry, serviceOverrides } from './options.js';
import { startStack } from './stack.js';
import { wrkAvailable } from './wrk.js';

const durationS = envInt('BENCH_DURATION_S', 60);
const opts: BenchOptions = {
  durationS,
  rate: envInt('BENCH_RATE', 3000),
  relativeShare: envShare('BENCH_RELATIVE_SHARE', 0.5),
  edge: process.env.BENCH_EDGE !== '0',
  saturatedS: envInt('BENCH_SATURATED_S', Math.min(30, durationS)),
  warmupS: envInt('BENCH_WARMUP_S', 3),
  players: envInt('BENCH_PLAYERS', 200),
  connections: envInt('BENCH_CONNECTIONS', 64),
  threads: envInt('BENCH_WRK_THREADS', 1),
  openConnections: envInt('BENCH_OPEN_CONNECTIONS', 64),
  profile: process.env.BENCH_PROFILE === '1' ? 'saturated' : process.env.BENCH_PROFILE === 'relative' ? 'relative' : false,
  keep: process.env.BENCH_KEEP === '1',
};
/** Credit per player (10,000,000.00): no tap is ever refused for funds. */
const FUNDS = 1_000_000_000;
/** TAPSTACK_* in the caller's environment override the bench's service settings. */
const overrides = serviceOverrides();

/** Temporary directories of this run: removed at the end, also on failure, unless BENCH_KEEP=1. */
const { tempDir, cleanUp } = runDirs(opts.keep, step);

async function main(): Promise<number> {
  if (!wrkAvailable()) throw new Error('wrk is not installed: apt-get install -y wrk');
  if (opts.edge && !onPath('nginx')) throw new Error('nginx is not installed: apt-get install -y nginx (or BENCH_EDGE=0 to skip the front-door phases)');
  const busyBefore = await machineLoad();
  const dir = tempDir('tapstack-bench-load-');
  const bare = await phaseBareKoa(opts, dir);
  step('setting up: redis, migrate, players, sessions, market, api/writer/realtime');
  const runSeconds = 3 * (opts.warmupS + opts.saturatedS) + 3 * (opts.warmupS + opts.durationS) + 180;
  const stack = await startStack({ players: opts.players, funds: FUNDS, nodeArgs: opts.profile ? ['--cpu-prof'] : [], overrides, runSeconds, dataDir: tempDir('tapstack-bench-data-') });
  const db = openDb(stack.config.dbFile, { readonly: true });
  try {
    const saturated = await phaseSaturated(opts, stack, db, dir, { label: '2' });
    const fixed = await phaseOpenLoop(opts, stack, db, dir, { label: '3', rate: opts.rate, tag: 'fixed' });
    const relativeRate = (opts.relativeShare ?? 0.5) * saturated.committedPerS;
    const relative = await phaseOpenLoop(opts, stack, db, dir, { label: `4 (${opts.relativeShare} × ${Math.round(saturated.committedPerS)}/s)`, rate: relativeRate, tag: 'relative' });
    let edge: EdgeResults | undefined;
    if (opts.edge) {
      step('setting up the front door: tapstack setup renders nginx.conf, nginx on free loopback ports');
      const e = await startEdge(tempDir('tapstack-bench-edge-'), { api: stack.apiUrl, realtime: stack.realtimeUrl });
      const via = { apiUrl: e.url, realtimeUrl: e.url, caFile: e.caFile, extraPids: { nginx: e.pids() } };
      const edgeSat = await phaseSaturated(opts, stack, db, dir, { label: '5 through nginx', ...via });
      const edgeOpen = await phaseOpenLoop(opts, stack, db, dir, { label: '6 through nginx', rate: relativeRate, tag: 'edge', ...via });
      await e.child.stop();
      edge = { lifted: e.lifted, saturated: edgeSat, open: edgeOpen };
    }
    const final = await finalAccounting(stack, db);
    const results = { bare, saturated, fixed, relative, ...(edge ? { edge } : {}), final };
    printReport({ opts, overrides, stack, stake: STAKE, ...results, profiles: opts.profile ? profiles(stack, opts.profile === 'relative' ? relative.window : saturated.window) : {}, busyBefore });
    const summaryFile = process.env.BENCH_SUMMARY_FILE;
    if (summaryFile) fs.writeFileSync(summaryFile, JSON.stringify(headline(results, { players: stack.players.length, relativeShare: opts.relativeShare ?? 0.5, fixedRate: opts.rate })));
    return accountingOk(results, stack.players.length) ? 0 : 1;
  } finally {
    db.close();
    stack.redis.disconnect();
  }
}

const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, cmd)));

const runs = envInt('BENCH_RUNS', 1);
if (runs > 1) void runMedian(runs);
else runEntry('bench', main, cleanUp);
