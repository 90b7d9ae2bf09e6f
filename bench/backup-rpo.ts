/**
 * Continuous-mode backup: measured RPO and writer stall.
 *
 *   node dist/bench/backup-rpo.js [--json]
 *   BENCH_RPO_SECONDS=20 BENCH_RPO_RATE=200 BENCH_RPO_PAD=1000 BENCH_RPO_INTERVAL_MS=1000 \
 *   BENCH_RPO_TARGET_DIR=/mnt/backup node dist/bench/backup-rpo.js
 *
 * A writer process commits one ledger-like row per transaction at a steady rate through the app's
 * database wrapper (synchronous=FULL, continuous-mode settings) and reports each commit's time; the
 * shipper (this process) ships to a local-directory target with age encryption. Printed:
 *   - RPO: commit → segment durable on the target, per commit: the upload time of the first segment
 *     whose scan started after the commit returned (an upper bound, tight within one scan);
 *   - writer stall: commit latency with the shipper vs. a baseline run without it, and how long the
 *     shipper held the write lock for its checkpoints.
 * `runRpoBench()` is exported for the backup bench (`npm run bench:backup`).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { generateKeyPair } from '../backup/crypto/index.js';
import { createTarget } from '../backup/targets/index.js';
import { createWalShipper, type ShippedSegment } from '../backup/wal/index.js';
import { openDb } from '../services/shared/db/database.js';
import { migrate } from '../services/shared/db/migrate.js';
import { createLogger } from '../services/shared/logger.js';

export interface RpoBenchOptions {
  seconds: number;
  /** Transactions per second of the writer (open loop). */
  rate: number;
  /** Random bytes per row. */
  pad: number;
  intervalMs: number;
  /** An existing directory for the target (default: a temp dir). */
  targetDir?: string;
}

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface RpoBenchResult {
  options: RpoBenchOptions;
  commits: number;
  segments: number;
  shippedMiB: number;
  rpoMs: Percentiles;
  commitLatencyMs: { baseline: Percentiles; continuous: Percentiles };
  checkpointStallMs: Percentiles & { checkpoints: number };
  walMaxMiB: number;
}

interface Commit {
  /** Wall clock (ms) before and after the commit, and its latency measured with performance.now(). */
  t0: number;
  t1: number;
  latencyMs: number;
}

export async function runRpoBench(opts: RpoBenchOptions): Promise<RpoBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-rpo-'));
  try {
    // Baseline: the app as it runs without continuous mode (SQLite's default auto-checkpoint).
    const baseline = await runWriter(prepareDb(path.join(dir, 'baseline.db')), { ...opts, seconds: Math.max(3, Math.round(opts.seconds / 2)) }, () => undefined, false);

    const dbFile = prepareDb(path.join(dir, 'tapstack.db'));
    const targetDir = opts.targetDir ?? path.join(dir, 'target');
    fs.mkdirSync(targetDir, { recursive: true });
    const keys = generateKeyPair();
    const segments: ShippedSegment[] = [];
    const stalls: number[] = [];
    const shipper = createWalShipper({
      dbFile,
      target: createTarget({ type: 'local', name: 'bench', path: targetDir }),
      encryption: { recipients: [keys.recipient] },
      log: createLogger({ service: 'bench', level: 'warn' }),
      intervalMs: opts.intervalMs,
      onSegment: (s) => segments.push(s),
      onStall: (ms) => stalls.push(ms),
    });
    await shipper.start();
    while (shipper.status().state !== 'running') await sleep(20);
    let walMax = 0;
    const commits = await runWriter(dbFile, opts, () => {
      walMax = Math.max(walMax, fs.statSync(`${dbFile}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    }, true);
    await shipper.flush();
    const status = shipper.status();
    await shipper.stop();

    // Segments in upload order; the first one whose scan started after a commit returned holds it
    // (or an earlier one did): its upload time bounds the commit's durability from above.
    const rpo: number[] = [];
    let s = 0;
    for (const c of [...commits].sort((a, b) => a.t1 - b.t1)) {
      while (s < segments.length && segments[s]!.lastScanStartedAt < c.t1) s++;
      const seg = segments[s];
      if (seg) rpo.push(seg.uploadedAt - c.t1);
    }
    return {
      options: opts,
      commits: commits.length,
      segments: segments.length,
      shippedMiB: status.bytesShipped / 2 ** 20,
      rpoMs: percentiles(rpo),
      commitLatencyMs: { baseline: percentiles(baseline.map((c) => c.latencyMs)), continuous: percentiles(commits.map((c) => c.latencyMs)) },
      checkpointStallMs: { ...percentiles(stalls), checkpoints: status.checkpoints.count },
      walMaxMiB: walMax / 2 ** 20,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function prepareDb(file: string): string {
  const db = openDb(file);
  migrate(db);
  db.raw.exec('CREATE TABLE bench_ledger (seq INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, account TEXT NOT NULL, amount INTEGER NOT NULL, pad BLOB)');
  db.close();
  return file;
}

/** A writer process committing `rate` rows/s for `seconds`; resolves with every commit's times. */
async function runWriter(dbFile: string, opts: RpoBenchOptions, onSecond: () => void, continuous: boolean): Promise<Commit[]> {
  const dbModule = new URL('../services/shared/db/database.js', import.meta.url).href;
  const code = `
    import { openDb, CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES } from ${JSON.stringify(dbModule)};
    import { randomBytes } from 'node:crypto';
    const db = openDb(process.env.DB, { synchronous: 'FULL', ...(process.env.CONTINUOUS === '1' ? { walAutocheckpoint: CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES } : {}) });
    const ins = db.stmt('INSERT INTO bench_ledger (created_at, account, amount, pad) VALUES (?, ?, ?, ?)');
    const period = 1000 / Number(process.env.RATE);
    const n = Math.round(Number(process.env.SECONDS) * Number(process.env.RATE));
    const start = Date.now();
    let out = [];
    for (let i = 0; i < n; i++) {
      const wait = start + i * period - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = Date.now();
      const p0 = performance.now();
      db.write(() => ins.run(t0, 'acct-' + (i % 50), i, randomBytes(Number(process.env.PAD))));
      const lat = performance.now() - p0;
      out.push(t0, Date.now(), lat);
      if (out.length >= 300) { process.stdout.write(JSON.stringify(out) + '\\n'); out = []; }
    }
    if (out.length) process.stdout.write(JSON.stringify(out) + '\\n');
    db.close();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, CONTINUOUS: continuous ? '1' : '0', DB: dbFile, RATE: String(opts.rate), SECONDS: String(opts.seconds), PAD: String(opts.pad) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const commits: Commit[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const xs = JSON.parse(line) as number[];
    for (let i = 0; i + 2 < xs.length; i += 3) commits.push({ t0: xs[i]!, t1: xs[i + 1]!, latencyMs: xs[i + 2]! });
  });
  const timer = setInterval(onSecond, 250);
  const code_ = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(timer);
  if (code_ !== 0) throw new Error(`bench writer exited with ${code_}`);
  return commits;
}

function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] ?? Number.NaN };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function formatRpoReport(r: RpoBenchResult): string {
  const f = (p: Percentiles, d = 0) => `p50 ${p.p50.toFixed(d)}  p90 ${p.p90.toFixed(d)}  p99 ${p.p99.toFixed(d)}  max ${p.max.toFixed(d)} ms  (n=${p.n})`;
  return [
    `continuous WAL shipping: ${r.options.rate} tx/s × ${r.options.seconds} s, ${r.options.pad}-byte rows, interval ${r.options.intervalMs} ms`,
    `  commits ${r.commits}, segments ${r.segments}, shipped ${r.shippedMiB.toFixed(1)} MiB, WAL peak ${r.walMaxMiB.toFixed(1)} MiB`,
    `  RPO (commit → durable on target)   ${f(r.rpoMs)}`,
    `  commit latency, no shipper         ${f(r.commitLatencyMs.baseline, 2)}`,
    `  commit latency, shipper running    ${f(r.commitLatencyMs.continuous, 2)}`,
    `  shipper write-lock holds (checkpoints, base, stop): p50 ${r.checkpointStallMs.p50.toFixed(2)}  p99 ${r.checkpointStallMs.p99.toFixed(2)}  max ${r.checkpointStallMs.max.toFixed(2)} ms (n=${r.checkpointStallMs.n}, ${r.checkpointStallMs.checkpoints} complete checkpoints)`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const num = (name: string, fallback: number) => {
    const v = process.env[name];
    const n = v === undefined || v === '' ? fallback : Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
    return n;
  };
  const result = await runRpoBench({
    seconds: num('BENCH_RPO_SECONDS', 20),
    rate: num('BENCH_RPO_RATE', 200),
    pad: num('BENCH_RPO_PAD', 1000),
    intervalMs: num('BENCH_RPO_INTERVAL_MS', 1000),
    ...(process.env.BENCH_RPO_TARGET_DIR ? { targetDir: process.env.BENCH_RPO_TARGET_DIR } : {}),
  });
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(result, null, 2)}\n` : `${formatRpoReport(result)}\n`);
}
