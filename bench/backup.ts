/**
 * `npm run bench:backup`: the backup engine on a 1 GiB database (BENCH_BACKUP_MIB to change it).
 *   1. snapshot time and the writer's stall: a separate process posts ledger rows (synchronous=FULL,
 *      one transaction every 2 ms) and times each commit; the snapshot runs meanwhile, by the
 *      one-step backup API (the engine's default) and by VACUUM INTO;
 *   2. age encryption and decryption MiB/s on one core (4 MiB chunks, as stored);
 *   3. a full backup to a local directory target, then an incremental after 100 more ledger rows;
 *   4. a restore of that backup (download, decrypt, verify, drill checks, swap, migrate, integrity).
 * Continuous-mode RPO is measured by backup/wal's own bench.
 * Run directly with `--writer DBFILE` this file IS the writer process.
 */
import { runRpoBench } from './backup-rpo.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream, generateKeyPair } from '../backup/crypto/index.js';
import { createBackup } from '../backup/engine/create.js';
import { restoreBackup } from '../backup/engine/restore.js';
import { parseBackupSettings } from '../backup/engine/settings.js';
import { snapshotSqlite, type SqliteSnapshotMethod } from '../backup/snapshot/sqlite.js';
import { adminMovement } from '../services/shared/accounts.js';
import { loadConfig } from '../services/shared/config.js';
import { openDb } from '../services/shared/db/database.js';
import { migrate } from '../services/shared/db/migrate.js';
import { createLogger } from '../services/shared/logger.js';

const MIB = 1024 * 1024;
const ADDR = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B';

interface Sample {
  at: number;
  ms: number;
}

// ------------------------------------------------------------------------------------ writer

async function writerMain(dbFile: string): Promise<void> {
  const db = openDb(dbFile, { synchronous: 'FULL' });
  const samples: Sample[] = [];
  let stop = false;
  process.on('SIGTERM', () => (stop = true));
  for (let i = 0; !stop; i++) {
    const at = Date.now();
    const t0 = performance.now();
    adminMovement(db, { address: ADDR, direction: 'credit', amount: 1, ref: `bench-${process.pid}-${i}` }, at);
    samples.push({ at, ms: performance.now() - t0 });
    await new Promise((r) => setTimeout(r, 2));
  }
  db.close();
  fs.writeFileSync(process.argv[4] as string, JSON.stringify(samples));
}

function startWriter(dbFile: string, out: string) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--writer', dbFile, out], { stdio: 'inherit' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop(): Promise<Sample[]> {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(fs.readFileSync(out, 'utf8')) as Sample[];
    },
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};
const f1 = (n: number) => n.toFixed(1);

// ------------------------------------------------------------------------------------ phases

function makeDatabase(dbFile: string, mib: number): void {
  const db = openDb(dbFile, { synchronous: 'NORMAL' });
  migrate(db);
  for (let i = 0; i < 1000; i++) adminMovement(db, { address: ADDR, direction: 'credit', amount: 100, ref: `seed-${i}` }, Date.now());
  db.raw.exec('CREATE TABLE scratch (b BLOB)');
  const ins = db.raw.prepare('INSERT INTO scratch (b) VALUES (?)');
  const blob = randomBytes(MIB);
  db.raw.transaction(() => {
    for (let i = 0; i < mib; i++) {
      blob.writeUInt32LE(i, 0); // distinct pages, incompressible content
      ins.run(blob);
    }
  })();
  db.checkpoint();
  db.close();
}

async function snapshotUnderWriter(dbFile: string, dir: string, method: SqliteSnapshotMethod) {
  const writer = startWriter(dbFile, path.join(dir, `writer-${method}.json`));
  await new Promise((r) => setTimeout(r, 2000)); // baseline
  const t0 = Date.now();
  const snap = await snapshotSqlite(dbFile, path.join(dir, `snap-${method}.db`), { method });
  const t1 = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const samples = await writer.stop();
  fs.rmSync(path.join(dir, `snap-${method}.db`), { force: true });
  const base = samples.filter((s) => s.at < t0).map((s) => s.ms);
  const during = samples.filter((s) => s.at + s.ms >= t0 && s.at <= t1);
  // Longest gap between commit starts across the window: a blocked writer shows up here even if
  // its one slow transaction started before the window.
  const starts = samples.map((s) => s.at).filter((a) => a >= t0 - 100 && a <= t1 + 100);
  let gap = 0;
  for (let i = 1; i < starts.length; i++) gap = Math.max(gap, (starts[i] as number) - (starts[i - 1] as number));
  return {
    method,
    seconds: (t1 - t0) / 1000,
    size: snap.size,
    baseP99: pct(base, 0.99),
    duringMax: Math.max(0, ...during.map((s) => s.ms)),
    duringP99: pct(during.map((s) => s.ms), 0.99),
    commitsDuring: during.length,
    gap,
  };
}

async function cryptoSpeed(mib: number) {
  const { identity, recipient } = generateKeyPair();
  const chunk = randomBytes(4 * MIB);
  const n = Math.max(1, Math.floor(mib / 4));
  const cts: Buffer[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const parts: Buffer[] = [];
    await pipeline(Readable.from([chunk]), createEncryptStream({ recipients: [recipient] }), sink(parts));
    if (i < 8) cts.push(Buffer.concat(parts));
  }
  const enc = (n * 4) / ((performance.now() - t0) / 1000);
  const t1 = performance.now();
  for (let i = 0; i < n; i++) await pipeline(Readable.from([cts[i % cts.length] as Buffer]), createDecryptStream({ identities: [identity] }), sink([]));
  const dec = (n * 4) / ((performance.now() - t1) / 1000);
  return { enc, dec };
}

const sink = (parts: Buffer[]) =>
  new Writable({
    write(c: Buffer, _e, cb) {
      if (parts.length < 1_000_000) parts.push(c);
      cb();
    },
  });

async function main(): Promise<void> {
  const mib = Number(process.env.BENCH_BACKUP_MIB ?? 1024);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-bench-backup-'));
  try {
    const dataDir = path.join(root, 'data');
    const dbFile = path.join(dataDir, 'tapstack.db');
    const targetDir = path.join(root, 'target');
    fs.mkdirSync(targetDir, { recursive: true });
    process.stderr.write(`generating a ${mib} MiB database in ${root}...\n`);
    let t = performance.now();
    makeDatabase(dbFile, mib);
    const genS = (performance.now() - t) / 1000;

    process.stderr.write('snapshots under a writer...\n');
    const snaps = [await snapshotUnderWriter(dbFile, root, 'backup-api'), await snapshotUnderWriter(dbFile, root, 'vacuum-into')];
    process.stderr.write('age encryption speed...\n');
    const speed = await cryptoSpeed(Math.min(mib, 512));

    const { identity, recipient } = generateKeyPair();
    const env = { TAPSTACK_DATA_DIR: dataDir, TAPSTACK_REDIS_URL: 'redis://127.0.0.1:1/0', TAPSTACK_BACKUP_RECIPIENTS: recipient, TAPSTACK_LOG_LEVEL: 'silent' };
    const config = loadConfig(env);
    const log = createLogger({ service: 'bench', level: 'silent' });
    const settings = parseBackupSettings({ targets: [{ type: 'local', name: 'local', path: targetDir }] }, path.join(root, 'backup.json'));
    process.stderr.write('full backup to a local directory...\n');
    t = performance.now();
    const full = await createBackup({ config, log, kind: 'full', targets: settings.targets, backupConfigFile: '', includeRedis: false });
    const fullS = (performance.now() - t) / 1000;
    const db = openDb(dbFile, { synchronous: 'FULL' });
    for (let i = 0; i < 100; i++) adminMovement(db, { address: ADDR, direction: 'credit', amount: 1, ref: `inc-${i}` }, Date.now());
    db.close();
    t = performance.now();
    const inc = await createBackup({ config, log, kind: 'incremental', targets: settings.targets, backupConfigFile: '', includeRedis: false });
    const incS = (performance.now() - t) / 1000;

    process.stderr.write('restore...\n');
    t = performance.now();
    const restored = await restoreBackup({ config, log, targets: settings.targets, dryRun: false, spec: { identities: [identity] }, stopServices: false, force: true, runDir: path.join(root, 'run'), backupConfigFile: '' });
    const restoreS = (performance.now() - t) / 1000;

    const fr = full.targets[0];
    const ir = inc.targets[0];
    const rows: [string, string][] = [
      ['database', `${f1(fs.statSync(dbFile).size / MIB)} MiB (generated in ${f1(genS)} s), ${os.cpus().length} vCPU ${os.cpus()[0]?.model.trim() ?? ''}`],
      ...snaps.flatMap((s): [string, string][] => [
        [`snapshot ${s.method}`, `${f1(s.seconds)} s (${f1(s.size / MIB / s.seconds)} MiB/s)`],
        [`  writer during it`, `${s.commitsDuring} commits; max ${f1(s.duringMax)} ms, p99 ${f1(s.duringP99)} ms (baseline p99 ${f1(s.baseP99)} ms); longest gap between commits ${s.gap} ms`],
      ]),
      ['age encrypt, one core', `${f1(speed.enc)} MiB/s (4 MiB chunks, X25519 recipient)`],
      ['age decrypt, one core', `${f1(speed.dec)} MiB/s`],
      ['full backup, local target', `${f1(fullS)} s: ${fr?.uploadedChunks} chunks, ${f1((fr?.uploadedBytes ?? 0) / MIB)} MiB stored, each read back (${f1(mib / fullS)} MiB/s end to end)`],
      ['incremental after 100 rows', `${f1(incS)} s: ${ir?.uploadedChunks} chunk(s) uploaded (${f1((ir?.uploadedBytes ?? 0) / MIB)} MiB), ${ir?.reusedChunks} reused`],
      ['restore (decrypt+verify+drill+swap)', `${f1(restoreS)} s (${f1(mib / restoreS)} MiB/s); integrity ${restored.integrity?.ok ? 'OK' : 'FAILED'}, ${restored.integrity?.rows} ledger rows`],
    ];
    process.stderr.write('continuous mode: RPO under a steady writer...\n');
    const rpo = await runRpoBench({ seconds: Number(process.env.BENCH_RPO_SECONDS ?? 15), rate: 200, pad: 1000, intervalMs: 1000 });
    rows.push(
      ['continuous-mode RPO (200 tx/s)', `p50 ${f1(rpo.rpoMs.p50)} ms, p99 ${f1(rpo.rpoMs.p99)} ms, max ${f1(rpo.rpoMs.max)} ms (target <= 5000 ms); ${rpo.segments} segments`],
      ['  shipper write-lock holds', `p50 ${rpo.checkpointStallMs.p50.toFixed(2)} ms, max ${rpo.checkpointStallMs.max.toFixed(2)} ms; commit p99 ${rpo.commitLatencyMs.baseline.p99.toFixed(2)} -> ${rpo.commitLatencyMs.continuous.p99.toFixed(2)} ms`],
    );
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\nTapstack backup bench (${mib} MiB)\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}\n`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--writer' && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await writerMain(process.argv[3] as string);
else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
