/**
 * Shared set-up of the backup integration tests (backup-*.test.ts): an appliance data directory
 * with real ledger rows, a key pair, a backup config file, and a writer process that keeps posting
 * ledger rows (timing each transaction) while a backup runs.
 *
 * Run directly (`node backup-helpers.js --writer DBFILE`) it IS that writer: it prints one JSON line
 * of statistics when it gets SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateKeyPair, formatIdentityFile } from '../../backup/crypto/index.js';
import type { TargetSpec } from '../../backup/contracts.js';
import { adminMovement } from '../../services/shared/accounts.js';
import { openDb } from '../../services/shared/db/database.js';
import { migrate } from '../../services/shared/db/migrate.js';
import { cleanProcessEnv, tempDir, testEnv } from '../helpers/env.js';
import type { TestRedis } from '../helpers/redis-server.js';

export const ADDRESSES = ['0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B', '0x71C7656EC7ab88b098defB751B7401B5f6d8976F', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'];

export interface Appliance {
  root: string;
  dataDir: string;
  dbFile: string;
  keyFile: string;
  recipient: string;
  configFile: string;
  env: Record<string, string>;
}

/** A migrated data dir with `rows` ledger rows, a key pair and a backup config naming `targets`. */
export function makeAppliance(opts: { targets: (TargetSpec & Record<string, unknown>)[]; rows?: number; redis?: TestRedis; extra?: Record<string, string>; drill?: string }): Appliance {
  const root = tempDir('tapstack-backup-');
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const dbFile = path.join(dataDir, 'tapstack.db');
  const db = openDb(dbFile, { synchronous: 'NORMAL' });
  migrate(db);
  for (let i = 0; i < (opts.rows ?? 50); i++) adminMovement(db, { address: ADDRESSES[i % ADDRESSES.length] as string, direction: 'credit', amount: 100 + i, ref: `seed-${i}` }, 1_000 + i);
  db.close();
  fs.mkdirSync(path.join(dataDir, 'secrets'), { mode: 0o700 });
  fs.writeFileSync(path.join(dataDir, 'secrets', 'redis-password'), 'not-a-real-password\n', { mode: 0o600 });
  fs.writeFileSync(path.join(dataDir, '.tapstack-volume.json'), JSON.stringify({ installId: 'test-install', createdAt: new Date().toISOString(), version: 'test' }), { mode: 0o644 });
  const pair = generateKeyPair();
  const keyFile = path.join(root, 'backup.key');
  fs.writeFileSync(keyFile, formatIdentityFile(pair.identity), { mode: 0o600 });
  const configFile = path.join(root, 'backup.json');
  fs.writeFileSync(configFile, JSON.stringify({ targets: opts.targets, ...(opts.drill ? { drill: opts.drill } : {}) }, null, 2));
  const env = testEnv({
    dataDir,
    redis: opts.redis,
    extra: {
      TAPSTACK_BACKUP_RECIPIENTS: pair.recipient,
      TAPSTACK_BACKUP_CONFIG_FILE: configFile,
      // No Redis given: point at a closed port so the snapshot skips it quickly.
      ...(opts.redis ? {} : { TAPSTACK_REDIS_URL: 'redis://127.0.0.1:1/0' }),
      ...opts.extra,
    },
  });
  return { root, dataDir, dbFile, keyFile, recipient: pair.recipient, configFile, env };
}

export function localTarget(root: string, name = 'local'): Extract<TargetSpec, { type: 'local' }> {
  const dir = path.join(root, `target-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  return { type: 'local', name, path: dir };
}

export interface WriterStats {
  rows: number;
  maxMs: number;
  p99Ms: number;
  /** Transactions slower than 50 ms: [start ms since epoch, duration ms]. */
  slow: [number, number][];
}

export interface Writer {
  child: ChildProcess;
  /** SIGTERM, then the statistics it printed. */
  stop(): Promise<WriterStats>;
}

/** Start a process that posts ledger rows into `dbFile` as fast as one per `everyMs`. */
export function startWriter(dbFile: string, everyMs = 2): Writer {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--writer', dbFile, String(everyMs)], { env: cleanProcessEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      const line = out.trim().split('\n').at(-1) ?? '{}';
      return JSON.parse(line) as WriterStats;
    },
  };
}

/** Wait until the writer has committed at least `n` rows beyond what is in the file now. */
export async function waitForRows(dbFile: string, atLeast: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const db = openDb(dbFile, { readonly: true });
    const n = (db.raw.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n;
    db.close();
    if (n >= atLeast) return n;
    if (Date.now() > deadline) throw new Error(`only ${n} ledger rows after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function writerMain(dbFile: string, everyMs: number): Promise<void> {
  const db = openDb(dbFile, { synchronous: 'NORMAL' });
  const durations: number[] = [];
  const slow: [number, number][] = [];
  let stop = false;
  process.on('SIGTERM', () => (stop = true));
  let i = 0;
  while (!stop) {
    const t0 = performance.now();
    const at = Date.now();
    adminMovement(db, { address: ADDRESSES[i % ADDRESSES.length] as string, direction: 'credit', amount: 1 + (i % 97), ref: `w-${process.pid}-${i}` }, at);
    const ms = performance.now() - t0;
    durations.push(ms);
    if (ms > 50) slow.push([at, Math.round(ms)]);
    i += 1;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  db.close();
  const sorted = durations.sort((a, b) => a - b);
  const stats: WriterStats = { rows: i, maxMs: Math.round((sorted.at(-1) ?? 0) * 10) / 10, p99Ms: Math.round((sorted[Math.floor(sorted.length * 0.99)] ?? 0) * 10) / 10, slow };
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}

if (process.argv[2] === '--writer' && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await writerMain(process.argv[3] as string, Number(process.argv[4] ?? 2));
}
