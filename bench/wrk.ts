/**
 * Closed-loop saturation with wrk (C, epoll, one thread drives thousands of requests per second on
 * a fraction of a core): a Lua script gives every request its own player token and cell, and
 * prints one machine-readable summary line at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { start } from './procs.js';

export interface WrkResult {
  /** Responses received in the window (any status). */
  requests: number;
  seconds: number;
  /** Responses with status >= 400. */
  non2xx: number;
  /** Socket-level failures (connect, read, write, timeout). */
  socketErrors: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

export interface WrkOptions {
  url: string;
  seconds: number;
  connections: number;
  threads: number;
  /** Lua script file (see `betScript`), or none for a plain GET. */
  script?: string;
}

const SUMMARY = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_WRK {"requests":%d,"durationUs":%d,"non2xx":%d,"socketErrors":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`;

/** A plain GET with the summary line. */
export function getScript(dir: string): string {
  const file = path.join(dir, 'get.lua');
  fs.writeFileSync(file, SUMMARY);
  return file;
}

/**
 * POST /api/bets with a different player and cell each time: players round-robin, cells on their
 * own cycle, each wrk thread starting at its own offset.
 */
export function betScript(dir: string, o: { tokens: string[]; quoteId: string; cells: { row: number; col: number }[]; stake: number }): string {
  const lua = `
local tokens = { ${o.tokens.map((t) => `"${t}"`).join(', ')} }
local cells = { ${o.cells.map((c) => `{${c.row}, ${c.col}}`).join(', ')} }
local nt, nc = #tokens, #cells
local counter = 0
local n = 0
setup = function(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
init = function(args)
  n = offset or 0
end
request = function()
  n = n + 1
  local c = cells[(n % nc) + 1]
  local body = '{"quoteId":"${o.quoteId}","row":' .. c[1] .. ',"col":' .. c[2] .. ',"stake":${o.stake}}'
  return wrk.format("POST", "/api/bets", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[(n % nt) + 1] }, body)
end
${SUMMARY}`;
  const file = path.join(dir, 'bets.lua');
  fs.writeFileSync(file, lua);
  return file;
}

/** Start wrk; `pid` is there for CPU accounting, `result` resolves when the run is over. */
export function startWrk(o: WrkOptions): { pid: number; result: Promise<WrkResult> } {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '-s', o.script ?? '', o.url];
  const child = start('wrk', 'wrk', args);
  const result = child.exited.then((code) => {
    const line = /BENCH_WRK (\{.*\})/.exec(child.output());
    if (code !== 0 || !line) throw new Error(`wrk failed (${code}):\n${child.output()}`);
    const r = JSON.parse(line[1] as string) as { requests: number; durationUs: number; non2xx: number; socketErrors: number; p50: number; p90: number; p99: number; max: number; mean: number };
    const ms = (us: number) => us / 1000;
    return {
      requests: r.requests,
      seconds: r.durationUs / 1e6,
      non2xx: r.non2xx,
      socketErrors: r.socketErrors,
      latencyMs: { p50: ms(r.p50), p90: ms(r.p90), p99: ms(r.p99), max: ms(r.max), mean: ms(r.mean) },
    };
  });
  return { pid: child.pid, result };
}

/** True if a `wrk` binary is on the PATH. */
export function wrkAvailable(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, 'wrk')));
}
