/** The printed result of `npm run bench`: one table of figures and targets, then the evidence. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { ProfileSummary } from './cpu-profile.js';
import type { BenchOptions, finalAccounting, Pauses, phaseBareKoa, phaseOpenLoop, phaseSaturated, WriterStats } from './phases.js';
import type { CpuUse } from './procs.js';
import type { Stack } from './stack.js';
import { int, ms, pct, table } from './stats.js';

/** The targets stated in the issue. */
export const TARGETS = { committedPerS: 8000, acceptP99Ms: 25, confirmP99Ms: 50 };

export interface Report {
  opts: BenchOptions;
  overrides: Record<string, string>;
  stack: Stack;
  stake: number;
  bare: Awaited<ReturnType<typeof phaseBareKoa>>;
  saturated: Awaited<ReturnType<typeof phaseSaturated>>;
  open: Awaited<ReturnType<typeof phaseOpenLoop>>;
  final: Awaited<ReturnType<typeof finalAccounting>>;
  profiles: Record<string, ProfileSummary>;
  /** Machine busy % (all cores) in the 2 s before the bench started. */
  busyBefore: number;
}

const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const version = (cmd: string, args: string[], re: RegExp) => {
  try {
    return re.exec(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))?.[1] ?? '?';
  } catch (err) {
    // wrk -v prints its banner and exits 1.
    return re.exec(String((err as { stdout?: string }).stdout ?? ''))?.[1] ?? '?';
  }
};

export function printReport(r: Report): void {
  const { opts, stack, bare, saturated: sat, open, final } = r;
  const o = open.result;
  const cfg = stack.config;
  const cpuModel = os.cpus()[0]?.model.trim() ?? '?';
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);

  out(`Tapstack bench — ${os.cpus().length} vCPU ${cpuModel}, Node ${process.version}, redis-server ${version('redis-server', ['--version'], /v=(\S+)/)}, wrk ${version('wrk', ['-v'], /wrk (\S+)/)}`);
  out(`services: SQLite synchronous=${cfg.sqlite.synchronous}, writer batch ≤ ${cfg.writer.batchMax}, Redis AOF everysec, log level ${cfg.logLevel}` +
    (Object.keys(r.overrides).length ? `; overrides: ${Object.entries(r.overrides).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''));
  out(`data: ${stack.players.length} players with sessions, ${stack.cells.length} cells of one quote, stake ${r.stake} minor units; taps round-robin over players and cells`);
  out(`load: wrk ${opts.threads} thread × ${opts.connections} connections, ${opts.saturatedS} s per measured run after ${opts.warmupS} s warm-up; ` +
    `open loop ${int(opts.rate)}/s × ${opts.durationS} s on ${opts.openConnections} keep-alive connections + ${stack.players.length} socket.io clients`);
  if (r.busyBefore > 10) out(`WARNING: the machine was ${pct(r.busyBefore)} busy before the bench started: other load lowers every figure (see "other" below).`);
  out();

  const accP99 = o.acceptMs.p99;
  const conP99 = o.confirmMs.p99;
  const rows: string[][] = [
    ['#', 'measurement', 'figure', 'target', ''],
    ['1', 'bare koa + @koa/router, GET /hello (ceiling)', `${int(bare.wrk.requests / bare.wrk.seconds)} req/s`, '', ''],
    ['', '  latency p50 / p99', `${ms(bare.wrk.latencyMs.p50)} / ${ms(bare.wrk.latencyMs.p99)} ms`, '', ''],
    ['2', 'saturated POST /api/bets: accepted (202)', `${int(sat.acceptedPerS)} bets/s`, '', ''],
    ['', '  share of the bare-koa ceiling', pct((sat.acceptedPerS / (bare.wrk.requests / bare.wrk.seconds)) * 100), '', ''],
    ['', '  accept latency p50 / p99 (closed loop)', `${ms(sat.wrk.latencyMs.p50)} / ${ms(sat.wrk.latencyMs.p99)} ms`, '', ''],
    ['', '  committed (SQLite rows, same window)', `${int(sat.committedPerS)} bets/s`, `≥ ${int(TARGETS.committedPerS)}/s`, verdict(sat.committedPerS >= TARGETS.committedPerS)],
    ['', '  writer backlog at the end / drained in', `${int(sat.backlogAtEnd)} bets / ${int(sat.drainMs)} ms`, '', ''],
    ['', '  non-2xx / socket errors', `${int(sat.wrk.non2xx)} / ${int(sat.wrk.socketErrors)}`, '', ''],
    ['3', `open loop ${int(opts.rate)} bets/s for ${opts.durationS} s: sent`, `${int(o.sent / o.sendSeconds)} /s (${int(o.sent)})`, '', ''],
    ['', '  accepted (202) / other statuses', `${int(o.accepted)} / ${int(o.responses - o.accepted)}`, '', ''],
    ['', '  committed during the run', `${int(open.committedPerS)} bets/s`, '', ''],
    ['', '  accept latency p50 / p99', `${ms(o.acceptMs.p50)} / ${ms(accP99)} ms`, `p99 ≤ ${TARGETS.acceptP99Ms} ms`, verdict(accP99 <= TARGETS.acceptP99Ms)],
    ['', '  tap → bet:confirmed p50 / p99', `${ms(o.confirmMs.p50)} / ${ms(conP99)} ms`, `p99 ≤ ${TARGETS.confirmP99Ms} ms`, verdict(conP99 <= TARGETS.confirmP99Ms && o.unconfirmed === 0)],
    ['', '  of which after the 202 (writer path) p50 / p99', `${ms(o.afterAcceptMs.p50)} / ${ms(o.afterAcceptMs.p99)} ms`, '', ''],
    ['', '  confirmations heard / never heard', `${int(o.confirmed)} / ${int(o.unconfirmed)}`, '', ''],
    ['', '  generator send lag p99 (counted in latencies)', `${ms(o.lagMs.p99)} ms`, '', ''],
    ['4', 'bets accepted (202, API counter, all runs)', int(final.accepted), '', ''],
    ['', '  committed (rows in SQLite)', `${int(final.rows)} (open ${int(final.counts.open)}, rejected at commit ${int(final.counts.rejected)})`, '', ''],
    ['', '  lost (accepted, never committed)', `${int(final.lost)}; open-loop ids without a row: ${int(open.missingRows)}`, '= 0', verdict(final.lost === 0 && open.missingRows === 0)],
    ['', '  integrity check (checkIntegrity)', final.integrity.ok
      ? `OK: ${int(final.integrity.rows)} ledger rows, ${final.integrity.accounts} accounts, ${int(final.integrity.durationMs)} ms`
      : `FAILED: ${final.integrity.problemCount} problem(s), first: ${final.integrity.problems[0]?.message ?? '?'}`, 'ok', verdict(final.integrity.ok)],
    ['', '  balance cache = SQLite balance / stakes pending', `${final.cacheMatches}/${stack.players.length} / ${int(final.pendingStakes)}`, '', ''],
  ];
  out(table(rows));
  out();

  out('Where the CPU went (% of one core; the machine has ' + `${bare.cpu.cores} cores = ${bare.cpu.cores * 100} %; other = busy time outside these processes, machine busy = % of all cores)`);
  const names = ['bare koa', 'api', 'writer', 'realtime', 'redis', 'wrk', 'load gen', 'bench'];
  const cpuRow = (label: string, c: CpuUse) => [label, ...names.map((n) => (c.perProcess[n] === undefined ? '' : pct(c.perProcess[n] as number))), pct(c.other), pct(c.machine)];
  out(table([
    ['phase', ...names, 'other', 'machine busy'],
    cpuRow('1 bare koa', bare.cpu),
    cpuRow('2 saturated', sat.cpu),
    cpuRow(`3 open loop ${int(opts.rate)}/s`, open.cpu),
  ], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  out();

  const writerLine = (label: string, w: WriterStats, perBetUs: number) =>
    out(`Writer, ${label}: ${int(w.batches)} batches, ${ms(w.entries / w.batches)} entries per batch, ` +
      `${ms((w.commitSeconds / w.batches) * 1000)} ms per SQLite transaction (${ms((w.commitSeconds / w.entries) * 1e6)} µs per entry inside it), ` +
      `${int(w.over25ms)} transactions > 25 ms and ${int(w.over100ms)} > 100 ms; ${ms(perBetUs)} µs writer CPU per committed bet`);
  writerLine('saturated', sat.writer, ((sat.cpu.perProcess.writer ?? Number.NaN) / 100) * 1e6 / sat.committedPerS);
  writerLine('open loop', open.writer, ((open.cpu.perProcess.writer ?? Number.NaN) / 100) * 1e6 / open.committedPerS);
  const apiUs = (sat.cpu.perProcess.api ?? Number.NaN) / 100 * 1e6 / sat.acceptedPerS;
  const redisUs = (sat.cpu.perProcess.redis ?? Number.NaN) / 100 * 1e6 / sat.acceptedPerS;
  out(`Per accepted bet (saturated): API ${ms(apiUs)} µs CPU, Redis ${ms(redisUs)} µs CPU; ` +
    `Redis memory +${int(sat.redisBytesPerBet)} bytes per bet (${int(sat.redisBytes / 2 ** 20)} MiB used at the end of the run)`);
  const satBets = sat.acceptedPerS * sat.window.seconds;
  // Commands run inside a Lua script are counted on their own line too (and inside evalsha's time).
  out(`Redis time per accepted bet by command (saturated window, INFO commandstats; script-internal commands also inside evalsha): ` +
    sat.redisCommands.slice(0, 8).map((c) => `${c.command} ${ms(c.usec / satBets)} µs × ${(c.calls / satBets).toFixed(2)}`).join(', '));
  const pauses = (label: string, p: Record<string, Pauses>, f: { rdb: number; aofRewrites: number }) =>
    out(`${label}: event-loop delay p99/max ` + Object.entries(p).map(([n, x]) => `${n} ${ms(x.lagP99Ms)}/${ms(x.lagMaxMs)} ms`).join(', ') +
      `; GC ` + Object.entries(p).map(([n, x]) => `${n} ${ms(x.gcMsPerS)} ms/s`).join(', ') + `; Redis forks: ${f.rdb} RDB snapshot(s), ${f.aofRewrites} AOF rewrite(s)`);
  pauses('Pauses, saturated', sat.pauses, sat.forks);
  pauses(`Pauses, open loop`, open.pauses, open.forks);
  out(`Final drain after stopping the API: ${int(final.drainMs)} ms; API refusals (non-202) over all runs: ${int(final.refused)}`);

  for (const [name, p] of Object.entries(r.profiles)) {
    out();
    out(`CPU profile of the ${name} over the saturated window (--cpu-prof; self time, ${int(p.totalMs - p.idleMs)} ms busy of ${int(p.totalMs)} ms sampled)`);
    out(table([['area', 'share', 'ms'], ...p.byArea.slice(0, 14).map((a) => [a.area, pct(a.share * 100), int(a.ms)])], [1, 2]));
    out(table([['top functions (self)', 'area', 'share'], ...p.byFunction.map((f) => [f.fn.slice(0, 90), f.area, pct(f.share * 100)])], [2]));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
