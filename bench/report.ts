/** The printed result of `npm run bench`: one table of figures and targets, then the evidence. */
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import type { ProfileSummary } from './cpu-profile.js';
import { accountingOk, bareReqPerS, cpuPerBet, TARGETS, type Results } from './headline.js';
import type { BenchOptions, OpenLoopPhase, Pauses, SaturatedResult, WriterStats } from './phases.js';
import type { CpuUse } from './procs.js';
import type { Stack } from './stack.js';
import { int, ms, pct, table } from './stats.js';

export interface Report extends Results {
  opts: BenchOptions;
  overrides: Record<string, string>;
  stack: Stack;
  stake: number;
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

/** The rows of a saturated phase (direct or through nginx). */
function saturatedRows(n: string, label: string, sat: SaturatedResult, bareReqS: number, withTarget: boolean): string[][] {
  return [
    [n, `${label}: accepted (202)`, `${int(sat.acceptedPerS)} bets/s`, '', ''],
    ['', '  share of the bare-koa ceiling (accepted / committed)', `${pct((sat.acceptedPerS / bareReqS) * 100)} / ${pct((sat.committedPerS / bareReqS) * 100)}`,
      withTarget ? `committed ≥ ${TARGETS.shareOfBareKoa}` : '', withTarget ? verdict(sat.committedPerS / bareReqS >= TARGETS.shareOfBareKoa) : ''],
    ['', '  accept latency p50 / p99 (closed loop)', `${ms(sat.wrk.latencyMs.p50)} / ${ms(sat.wrk.latencyMs.p99)} ms`, '', ''],
    ['', '  committed (SQLite rows, same window)', `${int(sat.committedPerS)} bets/s`, withTarget ? `≥ ${int(TARGETS.committedPerS)}/s` : '', withTarget ? verdict(sat.committedPerS >= TARGETS.committedPerS) : ''],
    ['', '  writer backlog at the end / drained in', `${int(sat.backlogAtEnd)} bets / ${int(sat.drainMs)} ms`, '', ''],
    ['', '  non-2xx / socket errors', `${int(sat.wrk.non2xx)} / ${int(sat.wrk.socketErrors)}`, '', ''],
  ];
}

/** The rows of an open-loop phase; `t` adds the targets (the writer event-loop one when given). */
function openRows(n: string, label: string, p: OpenLoopPhase, seconds: number, t?: { acceptP99Ms: number; confirmP99Ms: number; writerLagP99Ms?: number }): string[][] {
  const o = p.result;
  const writerLag = p.pauses.writer?.lagP99Ms ?? Number.NaN;
  const rows = [
    [n, `${label} ${int(p.rate)} bets/s for ${seconds} s: sent`, `${int(o.sent / o.sendSeconds)} /s (${int(o.sent)})`, '', ''],
    ['', '  accepted (202) / other statuses', `${int(o.accepted)} / ${int(o.responses - o.accepted)}`, '', ''],
    ['', '  committed during the run', `${int(p.committedPerS)} bets/s`, '', ''],
    ['', '  accept latency p50 / p99', `${ms(o.acceptMs.p50)} / ${ms(o.acceptMs.p99)} ms`, t ? `p99 ≤ ${t.acceptP99Ms} ms` : '', t ? verdict(o.acceptMs.p99 <= t.acceptP99Ms) : ''],
    ['', '  tap → bet:confirmed p50 / p99', `${ms(o.confirmMs.p50)} / ${ms(o.confirmMs.p99)} ms`, t ? `p99 ≤ ${t.confirmP99Ms} ms` : '', t ? verdict(o.confirmMs.p99 <= t.confirmP99Ms && o.unconfirmed === 0) : ''],
    ['', '  of which after the 202 (writer path) p50 / p99', `${ms(o.afterAcceptMs.p50)} / ${ms(o.afterAcceptMs.p99)} ms`, '', ''],
    ['', '    placed → writer batch start p50 / p99', `${ms(o.queuedMs.p50)} / ${ms(o.queuedMs.p99)} ms`, '', ''],
    ['', '    batch start → heard by the client p50 / p99', `${ms(o.deliveredMs.p50)} / ${ms(o.deliveredMs.p99)} ms`, '', ''],
    ['', '  confirmations heard / never heard', `${int(o.confirmed)} / ${int(o.unconfirmed)}`, '', ''],
    ['', '  generator send lag p99 (counted in latencies)', `${ms(o.lagMs.p99)} ms`, '', ''],
    ['', '  generator event-loop delay p99 / max (in every reading)', `${ms(o.loopDelayP99Ms)} / ${ms(o.loopDelayMaxMs)} ms`, '', ''],
  ];
  if (t?.writerLagP99Ms !== undefined) rows.push(['', '  writer event-loop delay p99 / max', `${ms(writerLag)} / ${ms(p.pauses.writer?.lagMaxMs ?? Number.NaN)} ms`, `p99 ≤ ${t.writerLagP99Ms} ms`, verdict(writerLag <= t.writerLagP99Ms)]);
  return rows;
}

export function printReport(r: Report): void {
  const { opts, stack, bare, saturated: sat, fixed, relative: rel, edge, final } = r;
  const cfg = stack.config;
  const cpuModel = os.cpus()[0]?.model.trim() ?? '?';
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  const bareReqS = bareReqPerS(bare);
  const share = opts.relativeShare ?? 0.5;

  out(`Tapstack bench — ${os.cpus().length} vCPU ${cpuModel}, Node ${process.version}, redis-server ${version('redis-server', ['--version'], /v=(\S+)/)}, wrk ${version('wrk', ['-v'], /wrk (\S+)/)}` +
    (edge ? `, nginx ${/nginx\/(\S+)/.exec(spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr ?? '')?.[1] ?? '?'}` : ''));
  out(`services: SQLite synchronous=${cfg.sqlite.synchronous}, writer batch ≤ ${cfg.writer.batchMax}, Redis AOF everysec, log level ${cfg.logLevel}` +
    (Object.keys(r.overrides).length ? `; overrides: ${Object.entries(r.overrides).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''));
  out(`data: ${stack.players.length} players with sessions, ${stack.cells.length} cells of one quote, stake ${r.stake} minor units; taps round-robin over players and cells`);
  out(`load: wrk ${opts.threads} thread × ${opts.connections} connections, ${opts.saturatedS} s per measured run after ${opts.warmupS} s warm-up; ` +
    `open loops of ${opts.durationS} s (after ${opts.warmupS} s unmeasured at the same rate) at ${int(opts.rate)}/s and at ${share} × the saturated committed rate on ${opts.openConnections} keep-alive connections + ${stack.players.length} socket.io clients`);
  if (edge) {
    out(`front door (5, 6): the nginx.conf \`tapstack setup\` renders (TLS, self-signed certificate, HTTP/2 listener, proxy settings, access log as rendered), ` +
      `HTTP/1.1 keep-alive over TLS; wrk does not verify the certificate, the open-loop generator and its socket.io clients (also through nginx) verify it as their CA.`);
    out(`  for the bench only (one client IP stands in for ${stack.players.length} players), the per-IP limits were lifted in the rendered file: ${edge.lifted.join('; ')}`);
  }
  if (r.busyBefore > 10) out(`WARNING: the machine was ${pct(r.busyBefore)} busy before the bench started: other load lowers every figure (see "other" below).`);
  out();

  const rows: string[][] = [
    ['#', 'measurement', 'figure', 'target', ''],
    ['1', 'bare koa + @koa/router, GET /hello (ceiling)', `${int(bareReqS)} req/s`, '', ''],
    ['', '  latency p50 / p99', `${ms(bare.wrk.latencyMs.p50)} / ${ms(bare.wrk.latencyMs.p99)} ms`, '', ''],
    ...saturatedRows('2', 'saturated POST /api/bets', sat, bareReqS, true),
    ...openRows('3', 'open loop', fixed, opts.durationS, TARGETS.fixed),
    ...openRows('4', `open loop at ${share} × saturated committed =`, rel, opts.durationS, TARGETS.relative),
    ...(edge ? [...saturatedRows('5', 'through nginx (TLS): saturated', edge.saturated, bareReqS, false), ...openRows('6', `through nginx (TLS): open loop at`, edge.open, opts.durationS, TARGETS.relative)] : []),
    [edge ? '7' : '5', 'bets accepted (202, API counter, all runs)', int(final.accepted), '', ''],
    ['', '  committed (rows in SQLite)', `${int(final.rows)} (open ${int(final.counts.open)}, rejected at commit ${int(final.counts.rejected)})`, '', ''],
    ['', '  lost (accepted, never committed)', `${int(final.lost)}; open-loop ids without a row: ${int(fixed.missingRows + rel.missingRows + (edge?.open.missingRows ?? 0))}`, '= 0',
      verdict(final.lost === 0 && fixed.missingRows + rel.missingRows + (edge?.open.missingRows ?? 0) === 0)],
    ['', '  integrity check (checkIntegrity)', final.integrity.ok
      ? `OK: ${int(final.integrity.rows)} ledger rows, ${final.integrity.accounts} accounts, ${int(final.integrity.durationMs)} ms`
      : `FAILED: ${final.integrity.problemCount} problem(s), first: ${final.integrity.problems[0]?.message ?? '?'}`, 'ok', verdict(final.integrity.ok)],
    ['', '  balance cache = SQLite balance / stakes pending', `${final.cacheMatches}/${stack.players.length} / ${int(final.pendingStakes)}`, `all / 0`,
      verdict(final.cacheMatches === stack.players.length && final.pendingStakes === 0)],
    ['', '  accounting over every phase', accountingOk(r, stack.players.length) ? 'OK' : 'FAILED (exit status 1)', '', ''],
  ];
  out(table(rows));
  out();

  out('Where the CPU went (% of one core; the machine has ' + `${bare.cpu.cores} cores = ${bare.cpu.cores * 100} %; other = busy time outside these processes, machine busy = % of all cores)`);
  const names = ['bare koa', 'api', 'writer', 'realtime', 'redis', ...(edge ? ['nginx'] : []), 'wrk', 'load gen', 'bench'];
  // One row per phase in both tables below.
  const phases: [string, CpuUse][] = [
    ['1 bare koa', bare.cpu],
    ['2 saturated', sat.cpu],
    [`3 open loop ${int(fixed.rate)}/s`, fixed.cpu],
    [`4 open loop ${int(rel.rate)}/s`, rel.cpu],
    ...(edge ? ([['5 nginx saturated', edge.saturated.cpu], [`6 nginx open ${int(edge.open.rate)}/s`, edge.open.cpu]] as [string, CpuUse][]) : []),
  ];
  /** A table of one figure per process and phase, with the machine-wide columns after it. */
  const perPhase = (procs: string[], of: (c: CpuUse) => Record<string, number>, extra: { head: string; value: (c: CpuUse) => number }[]) =>
    out(table([
      ['phase', ...procs, ...extra.map((e) => e.head)],
      ...phases.map(([label, c]) => [label, ...procs.map((n) => (of(c)[n] === undefined ? '' : pct(of(c)[n] as number))), ...extra.map((e) => pct(e.value(c)))]),
    ], procs.map((_, i) => i + 1).concat(extra.map((_, i) => procs.length + 1 + i))));
  perPhase(names, (c) => c.perProcess, [{ head: 'other', value: (c) => c.other }, { head: 'machine busy', value: (c) => c.machine }]);
  out();
  // Five busy processes on a few cores queue for them: this is the wait each one adds to every
  // hop a tap makes (API, Redis, writer, realtime, the client), and where the open loops' tails come from.
  out('Waiting for a CPU (time runnable but not running, summed over each process\'s threads, % of one core; steal = time the hypervisor gave our vCPUs to someone else, % of one core)');
  perPhase(names.filter((n) => n !== 'bench'), (c) => c.waiting, [{ head: 'steal', value: (c) => c.steal }]);
  out();

  const writerLine = (label: string, w: WriterStats, perBetUs: number) =>
    out(`Writer, ${label}: ${int(w.batches)} batches, ${ms(w.entries / w.batches)} entries per batch, ` +
      `${ms((w.commitSeconds / w.batches) * 1000)} ms per SQLite transaction (${ms((w.commitSeconds / w.entries) * 1e6)} µs per entry inside it), ` +
      `${int(w.over25ms)} transactions > 25 ms and ${int(w.over100ms)} > 100 ms; ${ms(perBetUs)} µs writer CPU per committed bet`);
  const writerUs = (p: { cpu: CpuUse; committedPerS: number }) => (((p.cpu.perProcess.writer ?? Number.NaN) / 100) * 1e6) / p.committedPerS;
  writerLine('2 saturated', sat.writer, writerUs(sat));
  writerLine(`3 open loop ${int(fixed.rate)}/s`, fixed.writer, writerUs(fixed));
  writerLine(`4 open loop ${int(rel.rate)}/s`, rel.writer, writerUs(rel));
  if (edge) {
    writerLine('5 nginx saturated', edge.saturated.writer, writerUs(edge.saturated));
    writerLine(`6 nginx open loop ${int(edge.open.rate)}/s`, edge.open.writer, writerUs(edge.open));
  }
  const c = cpuPerBet(sat);
  out(`CPU per accepted bet (2 saturated, direct): api ${ms(c.api)} µs, redis ${ms(c.redis)}, writer ${ms(c.writer)} (per committed bet) = ${ms(c.api + c.redis + c.writer)} µs ` +
    `(target ≤ ${TARGETS.cpuPerBetUs} µs: ${verdict(c.api + c.redis + c.writer <= TARGETS.cpuPerBetUs)}); Redis memory +${int(sat.redisBytesPerBet)} bytes per bet (${int(sat.redisBytes / 2 ** 20)} MiB used at the end of the run)`);
  if (edge) {
    const e = cpuPerBet(edge.saturated);
    out(`CPU per accepted bet (5 saturated, through nginx): api ${ms(e.api)} µs, redis ${ms(e.redis)}, writer ${ms(e.writer)}, nginx ${ms(e.nginx)} = ${ms(e.api + e.redis + e.writer + e.nginx)} µs; ` +
      `the edge costs ${ms(e.nginx)} µs of nginx CPU per bet (${pct((e.nginx / (c.api + c.redis + c.writer)) * 100)} on top of the direct path's services)`);
  }
  const satBets = sat.acceptedPerS * sat.window.seconds;
  // Commands run inside a Lua script are counted on their own line too (and inside evalsha's time).
  out(`Redis time per accepted bet by command (saturated window, INFO commandstats; script-internal commands also inside evalsha): ` +
    sat.redisCommands.slice(0, 8).map((x) => `${x.command} ${ms(x.usec / satBets)} µs × ${(x.calls / satBets).toFixed(2)}`).join(', '));
  const pauses = (label: string, p: Record<string, Pauses>, f: { rdb: number; aofRewrites: number }) =>
    out(`Pauses, ${label}: event-loop delay p99/max ` + Object.entries(p).map(([n, x]) => `${n} ${ms(x.lagP99Ms)}/${ms(x.lagMaxMs)} ms`).join(', ') +
      `; GC ` + Object.entries(p).map(([n, x]) => `${n} ${ms(x.gcMsPerS)} ms/s`).join(', ') + `; Redis forks: ${f.rdb} RDB snapshot(s), ${f.aofRewrites} AOF rewrite(s)`);
  pauses('2 saturated', sat.pauses, sat.forks);
  pauses(`3 open loop ${int(fixed.rate)}/s`, fixed.pauses, fixed.forks);
  pauses(`4 open loop ${int(rel.rate)}/s`, rel.pauses, rel.forks);
  if (edge) {
    pauses('5 nginx saturated', edge.saturated.pauses, edge.saturated.forks);
    pauses(`6 nginx open loop ${int(edge.open.rate)}/s`, edge.open.pauses, edge.open.forks);
  }
  out(`Final drain after stopping the API: ${int(final.drainMs)} ms; API refusals (non-202) over all runs: ${int(final.refused)}`);

  for (const [name, p] of Object.entries(r.profiles)) {
    out();
    out(`CPU profile of the ${name} over the ${r.opts.profile === 'relative' ? 'half-rate open-loop' : 'saturated'} window (--cpu-prof; self time, ${int(p.totalMs - p.idleMs)} ms busy of ${int(p.totalMs)} ms sampled)`);
    out(table([['area', 'share', 'ms'], ...p.byArea.slice(0, 14).map((a) => [a.area, pct(a.share * 100), int(a.ms)])], [1, 2]));
    out(table([['top functions (self)', 'area', 'share'], ...p.byFunction.map((f) => [f.fn.slice(0, 90), f.area, pct(f.share * 100)])], [2]));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
