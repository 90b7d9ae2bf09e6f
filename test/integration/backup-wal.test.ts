/**
 * Continuous WAL shipping and point-in-time restore, end to end: a real migrated SQLite file, a
 * writer in its own process (the app's database wrapper, continuous-mode settings) inserting
 * ledger-like rows with known commit times, the shipper in this process shipping to a local
 * directory target with real age encryption, and restores at chosen times compared row by row
 * with what had committed by then. ava runs these tests concurrently, each in its own directory.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import BetterSqlite3 from 'better-sqlite3';
import type { Target } from '../../backup/contracts.js';
import { generateKeyPair } from '../../backup/crypto/index.js';
import { createTarget } from '../../backup/targets/index.js';
import type { PointInTimeExtension } from '../../backup/engine/restore.js';
import { createWalPointInTime, createWalShipper, isWalError, pruneWal, restoreAt, windowOf, type ShippedSegment, type WalError, type WalShipper, type WalShipperOptions } from '../../backup/wal/index.js';
import { CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES } from '../../services/shared/db/database.js';
import { createLogger } from '../../services/shared/logger.js';
import { freshDb, tempDir } from '../helpers/env.js';

/** The RPO continuous mode promises (issue 6 §4). */
const RPO_MS = 5000;
/** Shipper settings for tests: frequent scans and uploads, small checkpoint threshold. */
const SCAN_MS = 50;
const INTERVAL_MS = 500;

const log = createLogger({ service: 'test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Commit {
  seq: number;
  /** Date.now() right before and right after the committing statement. */
  t0: number;
  t1: number;
}

/** A writer process: the app's openDb with the continuous-mode valve, one row per transaction. */
class Writer {
  readonly commits: Commit[] = [];
  private readonly child: ChildProcess;
  private waiting: (() => void) | undefined;
  private stderr = '';

  constructor(dbFile: string, valvePages: number) {
    const dbModule = new URL('../../services/shared/db/database.js', import.meta.url).href;
    const code = `
      import { openDb } from ${JSON.stringify(dbModule)};
      import { randomBytes } from 'node:crypto';
      import readline from 'node:readline';
      const db = openDb(process.env.DB, { synchronous: 'FULL', walAutocheckpoint: Number(process.env.VALVE) });
      const ins = db.stmt('INSERT INTO pitr_ledger (created_at, account, amount, memo, pad) VALUES (?, ?, ?, ?, ?)');
      for await (const line of readline.createInterface({ input: process.stdin })) {
        const [cmd, n, pad, every] = line.split(' ');
        if (cmd === 'quit') break;
        for (let i = 0; i < Number(n); i++) {
          const t0 = Date.now();
          const r = db.write(() => ins.run(t0, 'acct-' + (i % 7), 100 + i, 'deposit ' + i, randomBytes(Number(pad))));
          const t1 = Date.now();
          process.stdout.write(JSON.stringify({ seq: Number(r.lastInsertRowid), t0, t1 }) + '\\n');
          if (Number(every) > 0) await new Promise((res) => setTimeout(res, Number(every)));
        }
        process.stdout.write('{"done":true}\\n');
      }
      db.close();
      process.exit(0);
    `;
    this.child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, DB: dbFile, VALVE: String(valvePages) }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as Commit & { done?: boolean };
      if (msg.done) this.waiting?.();
      else this.commits.push(msg);
    });
  }

  /** Commit `n` rows (`pad` random bytes each), `everyMs` apart; resolves when all are committed. */
  write(n: number, pad: number, everyMs: number): Promise<Commit[]> {
    const from = this.commits.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`writer stuck: ${this.stderr}`)), 30_000);
      this.waiting = () => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(this.commits.slice(from));
      };
      this.child.stdin!.write(`write ${n} ${pad} ${everyMs}\n`);
    });
  }

  async quit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end('quit\n');
    await exited;
  }
}

interface Rig {
  dir: string;
  dbFile: string;
  targetDir: string;
  target: Target;
  identity: string;
  writer: Writer;
  segments: ShippedSegment[];
  shipper(extra?: Partial<WalShipperOptions>): WalShipper;
}

function rig(t: ExecutionContext, opts: { valvePages?: number } = {}): Rig {
  const { dir, config, db } = freshDb();
  db.raw.exec('CREATE TABLE pitr_ledger (seq INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, account TEXT NOT NULL, amount INTEGER NOT NULL, memo TEXT NOT NULL, pad BLOB)');
  db.close();
  const targetDir = path.join(dir, 'target');
  fs.mkdirSync(targetDir);
  const target = createTarget({ type: 'local', name: 'local', path: targetDir });
  const keys = generateKeyPair();
  const writer = new Writer(config.dbFile, opts.valvePages ?? CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES);
  const segments: ShippedSegment[] = [];
  const shippers: WalShipper[] = [];
  t.teardown(async () => {
    for (const s of shippers) await s.stop();
    await writer.quit();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    dbFile: config.dbFile,
    targetDir,
    target,
    identity: keys.identity,
    writer,
    segments,
    shipper: (extra = {}) => {
      const s = createWalShipper({
        dbFile: config.dbFile,
        target,
        encryption: { recipients: [keys.recipient] },
        log,
        intervalMs: INTERVAL_MS,
        scanMs: SCAN_MS,
        checkpointBytes: 256 * 1024,
        onSegment: (seg) => segments.push(seg),
        ...extra,
      });
      shippers.push(s);
      return s;
    },
  };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const running = (s: WalShipper) => waitFor('the shipper to store its base', () => s.status().state === 'running');

/** Restore at `at` into a fresh file; the sequence numbers of the restored rows. */
async function restoredSeqs(r: Rig, at: number, extra: { allowGap?: boolean } = {}) {
  const outFile = path.join(r.dir, `restore-${at}-${Math.random().toString(36).slice(2)}.db`);
  const result = await restoreAt({ target: r.target, identities: [r.identity], at, outFile, ...extra });
  const db = new BetterSqlite3(outFile, { readonly: true });
  try {
    const seqs = (db.prepare('SELECT seq FROM pitr_ledger ORDER BY seq').all() as { seq: number }[]).map((x) => x.seq);
    return { result, seqs };
  } finally {
    db.close();
  }
}

const seqsOf = (commits: Commit[]) => commits.map((c) => c.seq);
/** A time inside a pause of the writer: after `before`'s last commit, half-way into the pause. */
const midPause = (before: Commit[], pauseMs: number) => before[before.length - 1]!.t1 + pauseMs / 2;

test('restores exactly the rows committed up to T at any T, across shipper checkpoints and a shipper restart', async (t) => {
  const r = rig(t);
  const PAUSE = 700;
  let shipper = r.shipper();
  await shipper.start();
  await running(shipper);
  const generation = shipper.status().generation;

  const a = await r.writer.write(60, 3000, 10);
  await sleep(PAUSE);
  // Bigger rows: ~1.8 MiB of WAL, so the shipper checkpoints (256 KiB threshold) several times.
  const b = await r.writer.write(150, 6000, 5);
  await sleep(PAUSE);
  const checkpoints = shipper.status().checkpoints;
  t.true(checkpoints.count >= 2, `the shipper checkpointed (${JSON.stringify(checkpoints)})`);
  t.log(`writer stall per shipper checkpoint: p50 ${checkpoints.p50StallMs?.toFixed(2)} ms, max ${checkpoints.maxStallMs.toFixed(2)} ms over ${checkpoints.count}`);

  // A shipper restart: rows written while it is down are shipped after it resumes the generation.
  await shipper.stop();
  const c = await r.writer.write(40, 1000, 5);
  shipper = r.shipper();
  await shipper.start();
  t.is(shipper.status().generation, generation, 'the restarted shipper resumes the same generation');
  t.is(shipper.status().lastDiscontinuity, undefined);
  await sleep(PAUSE);
  const d = await r.writer.write(80, 500, 20);
  const all = [...a, ...b, ...c, ...d];
  const last = all[all.length - 1]!;

  // The newest commit becomes restorable within the RPO, with no flush. The writer is idle now, so
  // the newest segment holds the last commit; its upload time is when that commit became durable.
  let latest = await restoredSeqs(r, Date.now());
  while (latest.seqs.length < all.length && Date.now() < last.t1 + 4 * RPO_MS) {
    await sleep(200);
    latest = await restoredSeqs(r, Date.now());
  }
  t.deepEqual(latest.seqs, seqsOf(all), 'a restore at "now" has every row');
  const rpo = r.segments[r.segments.length - 1]!.uploadedAt - last.t1;
  t.log(`last commit durable ${rpo} ms after it returned`);
  t.true(rpo <= RPO_MS, `last commit durable after ${rpo} ms`);

  // Commit → durable for every commit made while a shipper ran (upper bound, see bench).
  const samples = [...a, ...b, ...d].flatMap((cm) => {
    const seg = r.segments.find((s) => s.lastScanStartedAt >= cm.t1);
    return seg ? [seg.uploadedAt - cm.t1] : [];
  });
  t.true(Math.max(...samples) <= RPO_MS, `max commit→durable ${Math.max(...samples)} ms`);

  // Restores inside pauses: exactly the rows committed before.
  const t1 = midPause(a, PAUSE);
  const atA = await restoredSeqs(r, t1);
  t.deepEqual(atA.seqs, seqsOf(a));
  t.true(atA.result.restoredTo <= t1 && atA.result.restoredTo >= a[a.length - 1]!.t0, 'the reported point is the last applied transaction');
  t.deepEqual((await restoredSeqs(r, midPause(b, PAUSE))).seqs, seqsOf([...a, ...b]));
  t.deepEqual((await restoredSeqs(r, midPause(c, PAUSE))).seqs, seqsOf([...a, ...b, ...c]));

  // Inside a steady stream: every row committed by T - granularity, none after T, a prefix.
  const mid = d[40]!.t1 + 5;
  const got = (await restoredSeqs(r, mid)).seqs;
  const granularity = SCAN_MS + 100;
  const must = all.filter((cm) => cm.t1 <= mid - granularity).map((cm) => cm.seq);
  const mustNot = all.filter((cm) => cm.t0 > mid).map((cm) => cm.seq);
  t.deepEqual(got, all.slice(0, got.length).map((cm) => cm.seq), 'a prefix of the commits');
  t.true(must.every((s) => got.includes(s)), 'everything committed before T - granularity');
  t.false(mustNot.some((s) => got.includes(s)), 'nothing committed after T');

  // One generation throughout; before its base there is nothing to restore.
  const w = await windowOf(r.target);
  t.is(w?.generations.length, 1);
  t.deepEqual(w?.gaps, []);
  const before = await t.throwsAsync(restoreAt({ target: r.target, identities: [r.identity], at: w!.from - 1, outFile: path.join(r.dir, 'x.db') }));
  t.true(isWalError(before, 'before-window'), String(before));
  // The WAL stayed small: the shipper's checkpoints let it restart.
  t.true(fs.statSync(`${r.dbFile}-wal`).size < 4 << 20, `WAL size ${fs.statSync(`${r.dbFile}-wal`).size}`);
});

test('a WAL reset while the shipper is down starts a new generation, and no restore is wrong', async (t) => {
  const r = rig(t);
  const PAUSE = 600;
  let shipper = r.shipper();
  await shipper.start();
  await running(shipper);
  const first = shipper.status().generation;
  const a = await r.writer.write(30, 2000, 10);
  await sleep(PAUSE);
  await shipper.stop();

  // While it is down: more rows, a TRUNCATE checkpoint by another connection, more rows.
  const lost = await r.writer.write(20, 2000, 5);
  const other = new BetterSqlite3(r.dbFile);
  t.like(other.pragma('wal_checkpoint(TRUNCATE)', { simple: false }) as object[], [{ busy: 0 }]);
  other.close();
  const lost2 = await r.writer.write(20, 2000, 5);
  const inGap = lost2[lost2.length - 1]!.t1 + 1;
  await sleep(50);

  shipper = r.shipper();
  await shipper.start();
  const st = shipper.status();
  t.is(st.lastDiscontinuity?.code, 'resume-failed', JSON.stringify(st.lastDiscontinuity));
  t.is(st.generationsStarted, 1);
  t.not(st.generation, first);
  await running(shipper);
  await sleep(PAUSE);
  const c = await r.writer.write(30, 2000, 10);
  await shipper.flush();

  const w = await windowOf(r.target);
  t.is(w?.generations.length, 2);
  t.is(w?.gaps.length, 1);
  t.is(w?.gaps[0]?.reason, 'resume-failed');

  t.deepEqual((await restoredSeqs(r, midPause(a, PAUSE))).seqs, seqsOf(a), 'before the gap: the old generation');
  const err = await t.throwsAsync(restoreAt({ target: r.target, identities: [r.identity], at: inGap, outFile: path.join(r.dir, 'gap.db') }));
  t.true(isWalError(err, 'in-gap'), String(err));
  const earlier = await restoredSeqs(r, inGap, { allowGap: true });
  t.deepEqual(earlier.seqs, seqsOf(a), 'allowGap restores the last point before the gap');
  t.truthy(earlier.result.gap);
  t.deepEqual((await restoredSeqs(r, c[0]!.t0 - 1)).seqs, seqsOf([...a, ...lost, ...lost2]), 'after the new base: rows written while the shipper was down are in it');
  t.deepEqual((await restoredSeqs(r, Date.now())).seqs, seqsOf([...a, ...lost, ...lost2, ...c]));
});

test('a damaged, missing or wrongly keyed segment is detected with a clear error', async (t) => {
  const r = rig(t);
  const PAUSE = 300;
  const shipper = r.shipper();
  await shipper.start();
  await running(shipper);
  // Bursts apart by more than a scan: each ends up in its own segments.
  const bursts: Commit[][] = [];
  for (let i = 0; i < 4; i++) {
    bursts.push(await r.writer.write(10, 2000, 5));
    await shipper.flush();
    await sleep(PAUSE);
  }
  await shipper.stop();
  const segs = (await windowOf(r.target))!.generations[0]!.segments;
  t.true(segs.length >= 4, `${segs.length} segments`);
  const victim = segs[segs.length - 1]!;
  const file = path.join(r.targetDir, victim.key);
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  fs.writeFileSync(file, bytes);

  const err = await t.throwsAsync(restoreAt({ target: r.target, identities: [r.identity], at: Date.now(), outFile: path.join(r.dir, 'bad.db') }));
  t.true(isWalError(err, 'corrupt-segment'), String(err));
  t.true(err!.message.includes(victim.key), 'the message names the damaged object');
  t.false(fs.existsSync(path.join(r.dir, 'bad.db')), 'nothing is left at the output path');
  // Points before the damaged segment still restore.
  t.true(victim.firstCommitAt > midPause(bursts[2]!, PAUSE));
  t.deepEqual((await restoredSeqs(r, midPause(bursts[2]!, PAUSE))).seqs, seqsOf(bursts.slice(0, 3).flat()));

  const wrong = await t.throwsAsync(restoreAt({ target: r.target, identities: [generateKeyPair().identity], at: midPause(bursts[0]!, PAUSE), outFile: path.join(r.dir, 'key.db') }));
  t.true(isWalError(wrong, 'wrong-key'), String(wrong));

  fs.rmSync(path.join(r.targetDir, segs[1]!.key));
  const missing = await t.throwsAsync(restoreAt({ target: r.target, identities: [r.identity], at: Date.now(), outFile: path.join(r.dir, 'hole.db') }));
  t.true(isWalError(missing, 'missing-segment'), String(missing));
  t.like((missing as WalError).details, { shortfall: { missing: { from: segs[1]!.index }, reachedAt: segs[0]!.committedUntil } }, 'replayed up to the hole, then failed naming it');
  t.false(fs.existsSync(path.join(r.dir, 'hole.db')));
  const accepted = await restoreAt({ target: r.target, identities: [r.identity], at: Date.now(), outFile: path.join(r.dir, 'hole.db'), allowGap: true });
  t.is(accepted.restoredTo, segs[0]!.committedUntil, 'allowGap restores exactly to the hole');
  t.like(accepted.shortfall, { kind: 'missing-segment', reachedAt: segs[0]!.committedUntil });
});

test("SQLite's PASSIVE auto-checkpoint (the app's safety valve) loses nothing while the shipper runs", async (t) => {
  // A tiny valve so the writer's own PASSIVE checkpoints run all the time; the shipper never
  // checkpoints itself here.
  const r = rig(t, { valvePages: 8 });
  const shipper = r.shipper({ checkpointBytes: 1 << 30 });
  await shipper.start();
  await running(shipper);
  const a = await r.writer.write(120, 4000, 3);
  await sleep(400);
  const b = await r.writer.write(120, 4000, 3);
  await shipper.flush();
  const st = shipper.status();
  t.is(st.lastDiscontinuity, undefined);
  t.is(st.generationsStarted, 1);
  t.deepEqual((await restoredSeqs(r, midPause(a, 400))).seqs, seqsOf(a));
  t.deepEqual((await restoredSeqs(r, Date.now())).seqs, seqsOf([...a, ...b]));
});

test('rollover starts contiguous generations: no gap, exact restores in each', async (t) => {
  const r = rig(t);
  const shipper = r.shipper({ rolloverMs: 1200 });
  await shipper.start();
  await running(shipper);
  const parts: Commit[][] = [];
  for (let i = 0; i < 4; i++) {
    parts.push(await r.writer.write(15, 1500, 40));
    await sleep(500);
  }
  await shipper.stop(); // no further rollovers while we look
  const w = (await windowOf(r.target))!;
  t.true(w.generations.length >= 2, `${w.generations.length} generations`);
  t.deepEqual(w.gaps, []);
  t.true(w.generations.slice(1).every((g) => g.meta.reason === 'rollover' && g.meta.previous?.contiguous === true));
  for (let i = 0; i < parts.length; i++) {
    t.deepEqual((await restoredSeqs(r, midPause(parts[i]!, 500))).seqs, seqsOf(parts.slice(0, i + 1).flat()), `after part ${i}`);
  }

  // Retention: keep what restores points from the second generation's base on.
  const keepFrom = w.generations[1]!.baseAt + 1;
  const dry = await pruneWal({ target: r.target, keepFrom, dryRun: true });
  t.deepEqual(dry.generations, [w.generations[0]!.generation]);
  t.is((await windowOf(r.target))!.generations.length, w.generations.length, 'a dry run deletes nothing');
  await pruneWal({ target: r.target, keepFrom });
  const after = (await windowOf(r.target))!;
  t.is(after.from, w.generations[1]!.baseAt);
  t.deepEqual((await restoredSeqs(r, Date.now())).seqs, seqsOf(parts.flat()));
  await pruneWal({ target: r.target, keepFrom: Date.now() + 3600_000 });
  t.is((await windowOf(r.target))!.generations.length, 1, 'the newest generation is never pruned');
});

test("the engine's point-in-time hook rebuilds the restored copy at T, and keeps the snapshot when the WAL cannot do better", async (t) => {
  const r = rig(t);
  const shipper = r.shipper();
  await shipper.start();
  await running(shipper);
  const a = await r.writer.write(20, 1000, 5);
  await sleep(400);
  const b = await r.writer.write(20, 1000, 5);
  await shipper.flush();
  const hook: PointInTimeExtension = createWalPointInTime({ log }); // also checks the shapes match
  const copy = path.join(r.dir, 'engine-copy.db');
  fs.copyFileSync(r.dbFile, copy); // stands in for the engine's restored snapshot
  const at = midPause(a, 400);
  const res = await hook.replay(r.target, { snapshotAt: a[0]!.t0 } as never, copy, at, { identities: [r.identity] });
  t.true(res.replayedUntil <= at && res.replayedUntil >= a[a.length - 1]!.t0);
  const db = new BetterSqlite3(copy, { readonly: true });
  t.deepEqual((db.prepare('SELECT seq FROM pitr_ledger ORDER BY seq').all() as { seq: number }[]).map((x) => x.seq), seqsOf(a));
  db.close();
  const w = (await hook.window(r.target, undefined as never))!;
  t.true(w.from <= a[0]!.t0 && w.to >= b[b.length - 1]!.t0);
  // Before the window: the snapshot stays as it is.
  const kept = await hook.replay(r.target, { snapshotAt: 5 } as never, copy, w.from - 1000, { identities: [r.identity] });
  t.like(kept, { replayedUntil: 5, segments: 0 });
  t.regex(kept.note ?? '', /continuous \(WAL\) backups start after .*: restoring the snapshot of/, 'and says so');
});

test('a short target outage is ridden out; a long one gives up the generation and starts a new one', async (t) => {
  const r = rig(t);
  const shipper = r.shipper({ maxPendingBytes: 512 * 1024 });
  await shipper.start();
  await running(shipper);
  const a = await r.writer.write(10, 500, 5);
  await shipper.flush();
  const first = shipper.status().generation;

  const off = `${r.targetDir}.off`;
  fs.renameSync(r.targetDir, off); // the target is "unmounted": puts fail with 'unreachable'
  const b = await r.writer.write(10, 500, 5);
  await sleep(1500);
  t.true(shipper.status().lagMs > 1000, 'the lag shows the outage');
  fs.renameSync(off, r.targetDir);
  await shipper.flush();
  t.is(shipper.status().generation, first, 'a short outage keeps the generation');
  t.is(shipper.status().lagMs, 0);

  fs.renameSync(r.targetDir, off);
  const c = await r.writer.write(60, 6000, 2); // more than maxPendingBytes / 2
  await waitFor('the shipper to give up the generation', () => shipper.status().lastDiscontinuity?.code === 'target-backlog');
  fs.renameSync(off, r.targetDir);
  await waitFor('a new generation', () => shipper.status().state === 'running' && shipper.status().generation !== first, 30_000);
  const d = await r.writer.write(10, 500, 5);
  await shipper.flush();
  const w = (await windowOf(r.target))!;
  t.is(w.generations.length, 2);
  t.is(w.gaps[0]?.reason, 'target-backlog');
  t.deepEqual((await restoredSeqs(r, Date.now())).seqs, seqsOf([...a, ...b, ...c, ...d]));
});
