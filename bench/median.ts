/**
 * BENCH_RUNS=N: the whole bench N times in a row, each run its own process with its own stack
 * (its report printed as it ends), then one table of the headline figures as the median of the
 * runs with min–max and each run's value (headline.ts). Exit status 1 if any run failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { medianTable, type Headline } from './headline.js';
import { onStopSignal, start, type Child } from './procs.js';

const step = (s: string) => process.stderr.write(`bench: ${s}\n`);

export async function runMedian(runs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-bench-median-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'BENCH_RUNS' && k !== 'BENCH_SUMMARY_FILE') env[k] = v;
  let stopping = false;
  let current: Child | undefined;
  onStopSignal((signal) => {
    stopping = true;
    process.stderr.write(`\nbench: ${signal}, stopping the run in progress\n`);
    // The run cleans up after itself on SIGTERM (every process it started, by PID): give it time.
    void (current?.stop(120_000) ?? Promise.resolve()).finally(() => process.exit(130));
  });
  const headlines: Headline[] = [];
  let failed = 0;
  for (let i = 1; i <= runs && !stopping; i++) {
    step(`run ${i} of ${runs}`);
    const summary = path.join(dir, `run-${i}.json`);
    const child = (current = start(`bench run ${i}`, process.execPath, ['dist/bench/run.js'], { ...env, BENCH_SUMMARY_FILE: summary }));
    // Its report and progress lines pass straight through.
    child.child.stdout?.on('data', (d: Buffer) => process.stdout.write(d));
    child.child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
    const code = await child.exited;
    if (code !== 0) failed += 1;
    if (fs.existsSync(summary)) headlines.push(JSON.parse(fs.readFileSync(summary, 'utf8')) as Headline);
    else step(`run ${i} ended (${code}) without figures`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  if (headlines.length > 0) {
    process.stdout.write(`\nMedian of ${headlines.length} run(s) (${runs} asked, ${failed} failed); "÷ bare koa" is each run's figure over its own bare-koa ceiling (a rate ÷ req/s, a CPU cost ÷ one bare-koa request's), median of the runs\n`);
    process.stdout.write(`${medianTable(headlines)}\n`);
  }
  process.exit(failed > 0 || headlines.length < runs ? 1 : 0);
}
