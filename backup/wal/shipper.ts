/**
 * Continuous mode: ship every committed SQLite transaction to a target within about `intervalMs`.
 *
 * One loop, every `scanMs`: read the frames committed since the last scan from `<db>-wal` (stamped
 * with the time they were seen: the PITR timestamp), renew the read hold (sqlite-locks.ts), and
 * every `intervalMs` cut what was read into an encrypted segment queued for upload (upload.ts). The
 * shipper alone checkpoints: once the WAL grew by `checkpointBytes` it takes the write lock, reads
 * the last frames, checkpoints (completely, as nothing can write), takes a new hold and lets go;
 * the next writer restarts the WAL. A state it cannot prove continuous starts a new generation with
 * a new base. Design and guarantees: backup/wal/README.md.
 *
 * Three parts: reading and cutting segments (shipper-read.ts, which owns the read reader.position),
 * checkpoints and writer stalls (shipper-checkpoint.ts), uploads (upload.ts, and `stored` /
 * `uploadFailed` below); this file holds the generations and the state machine (shipper-phase.ts)
 * that decides which part runs when. The invariant that matters — the hold moves forward only after
 * the frames up to the WAL's end were read — is kept in `tick` and the locked steps.
 */
import fs from 'node:fs';
import { every, type Every } from '../../services/shared/every.js';
import { createWalMetrics, type WalMetrics } from './metrics.js';
import { checkResume } from './resume.js';
import { generationTime, newGenerationId, type GenerationMeta } from './segment.js';
import { checkpointOnce, settleForStop, StallStats, walGrowth } from './shipper-checkpoint.js';
import { isShipping, nextPhase, type Phase } from './shipper-phase.js';
import { EMPTY, WalReader, type Scan } from './shipper-read.js';
import { openShipperDb, type ShipperDb } from './sqlite-locks.js';
import { defaultStateFile, writeState } from './state.js';
import type { WalShipper, WalShipperOptions, WalShipperStatus } from './types.js';
import { backoff, sleep, storeItem, UploadQueue, type QueueItem } from './upload.js';
import { frameBytes, positionToJson, scanWal } from './wal-file.js';

export type { ShippedSegment, WalShipper, WalShipperOptions, WalShipperStatus } from './types.js';

interface Generation {
  id: string;
  baseAt: number;
  reason: string;
  nextIndex: number;
  storedBytes: number;
}

type Previous = GenerationMeta['previous'];

export function createWalShipper(opts: WalShipperOptions): WalShipper {
  const log = opts.log.child({ module: 'wal-shipper', target: opts.target.name });
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 1000;
  const scanMs = opts.scanMs ?? Math.min(100, intervalMs);
  const checkpointBytes = opts.checkpointBytes ?? 4 << 20;
  const maxSegmentBytes = opts.maxSegmentBytes ?? 16 << 20;
  const maxPendingBytes = opts.maxPendingBytes ?? 64 << 20;
  const rolloverMs = opts.rolloverMs ?? 24 * 3600_000;
  const rolloverBytes = opts.rolloverBytes ?? 1 << 30;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const stateFile = opts.stateFile ?? defaultStateFile(opts.dbFile, opts.target.name);
  const walFile = `${opts.dbFile}-wal`;

  let db: ShipperDb | undefined;
  let phase: Phase = 'stopped';
  const moveTo = (to: Phase) => (phase = nextPhase(phase, to));
  let stopping = false;
  let gen: Generation | undefined;
  let need: { code: string; detail: string; previous: Previous } = { code: 'first-start', detail: 'no previous generation to continue', previous: null };
  let nextAttemptAt = 0;
  let attemptFailures = 0;
  let baseInFlight = false;
  let lastCheckpoint: { salt1: number; frame: number } | undefined;
  let loop: Every | undefined;
  let durable: { index: number; committedUntil?: number; lastUploadAt?: number } = { index: 0 };
  const stats = { generationsStarted: 0, segments: 0, bytes: 0 };
  let lastDiscontinuity: WalShipperStatus['lastDiscontinuity'];
  let lastError: string | undefined;

  const queue = new UploadQueue(stored, uploadFailed);
  const reader = new WalReader({ walFile, now, log, encryption: opts.encryption, intervalMs, heartbeatMs, maxSegmentBytes, maxPendingBytes }, queue);
  const unshippedBytes = () => reader.unshippedBytes();
  const scanInto = (strict: boolean, unlimited = false) => reader.scanInto(strict, unlimited);
  const cutSegments = (force: boolean) => reader.cutSegments(gen, force);
  const confirm = (force: boolean) => reader.confirm(gen, baseInFlight, force);
  const lagMs = () => {
    const q = queue.items.find((i) => i.kind === 'segment');
    const oldest = q?.kind === 'segment' ? q.firstCommitAt : reader.pending[0]?.at;
    return oldest === undefined ? 0 : Math.max(0, now() - oldest);
  };
  const metrics: WalMetrics | undefined = opts.registry ? createWalMetrics(opts.registry, { lagSeconds: () => lagMs() / 1000, pendingBytes: unshippedBytes }) : undefined;
  const stalls = new StallStats({ now, metrics, onStall: opts.onStall });
  const recordStall = (ms: number, full: boolean) => stalls.record(ms, full);
  const stamp = () => reader.stamp();

  function checkpoint(): void {
    const { scan, full } = checkpointOnce(db!, reader, stalls);
    if (scan.kind === 'broken') return discontinuity(scan.code, scan.detail);
    if (full && reader.position.header) lastCheckpoint = { salt1: reader.position.header.salt1, frame: reader.position.frame };
  }


  // ------------------------------------------------------------------ generations

  /** The end of the current generation as far as it was read (the next one's `previous`). */
  function tail(contiguous: boolean): Previous {
    if (!gen) return null;
    const last = [...queue.items].reverse().find((q) => q.kind === 'segment' && q.generation === gen!.id);
    return last?.kind === 'segment'
      ? { generation: gen.id, index: last.index, committedUntil: last.committedUntil, contiguous }
      : { generation: gen.id, index: durable.index, committedUntil: durable.committedUntil ?? gen.baseAt, contiguous };
  }

  function noteDiscontinuity(code: string, detail: string): void {
    lastDiscontinuity = { at: now(), code, reason: detail };
    log.warn({ reason: code, detail, generation: gen?.id }, 'WAL discontinuity: a new generation with a new base snapshot starts');
  }

  /** Continuity is lost after what was read: ship that to the old generation, then start anew. */
  function discontinuity(code: string, detail: string): void {
    noteDiscontinuity(code, detail);
    cutSegments(true);
    need = { code, detail, previous: tail(false) };
    gen = undefined;
    moveTo('need-generation');
    nextAttemptAt = 0;
  }

  /** Drop everything not yet stored (target down too long, base failed); the next base covers it. */
  function abandon(code: string, detail: string): void {
    log.error({ reason: code, detail, generation: gen?.id, dropped: queue.items.length }, 'WAL shipping gave up this generation; a new base will be taken');
    lastDiscontinuity = { at: now(), code, reason: detail };
    need = { code, detail, previous: gen ? { generation: gen.id, index: durable.index, committedUntil: durable.committedUntil ?? gen.baseAt, contiguous: false } : need.previous };
    gen = undefined;
    moveTo('need-generation');
    queue.clear();
    reader.pending = [];
    baseInFlight = false;
    db?.releaseHolds();
    attemptFailures++;
    nextAttemptAt = now() + backoff(attemptFailures);
  }

  /**
   * Start a generation: under the write lock read the WAL to its end (on a rollover still shipping
   * it to the old generation), checkpoint completely, take the hold (on read mark 0, which freezes
   * the database file), release the lock. The queued base upload then copies the frozen file.
   */
  function startGeneration(contiguous: boolean): boolean {
    const d = db!;
    if (!contiguous) {
      // Nothing to preserve: copy the WAL into the database and shrink it while writers still run,
      // so that little is left for the locked part below.
      d.releaseHolds();
      reader.position = EMPTY;
      reader.pending = [];
      d.checkpoint('PASSIVE');
      const t = performance.now();
      const ck = d.checkpoint('TRUNCATE', 200);
      recordStall(performance.now() - t, !ck.busy);
    }
    if (!d.lockWrites()) return false;
    const t0 = performance.now();
    let ok = false;
    let broken: Scan | undefined;
    try {
      if (contiguous) {
        const s = scanInto(false, true);
        if (s.kind === 'broken') {
          broken = s;
          return false;
        }
        cutSegments(true);
      } else {
        // Everything up to the WAL's end goes into the base: read only to learn where it ends.
        const r = scanWal(walFile, EMPTY, { maxBytes: Number.MAX_SAFE_INTEGER, strict: true });
        if (r.kind !== 'ok') return false;
        reader.position = r.position;
      }
      d.releaseHolds(); // our write lock, and its read mark, protect the WAL meanwhile
      const ck = d.checkpoint('PASSIVE');
      d.renewHold();
      if (ck.checkpointed < ck.log) {
        log.info(ck, 'new generation postponed: a reader kept the checkpoint from completing');
        return false;
      }
      ok = true;
    } finally {
      d.unlockWrites();
      recordStall(performance.now() - t0, ok);
      if (broken?.kind === 'broken') discontinuity(broken.code, broken.detail);
    }
    const baseAt = stamp();
    const previous = contiguous ? tail(true) : need.previous;
    const reason = contiguous ? 'rollover' : need.code;
    const prevTime = previous ? generationTime(previous.generation) : Number.NaN;
    const id = newGenerationId(Number.isNaN(prevTime) ? baseAt : Math.max(baseAt, prevTime + 1));
    gen = { id, baseAt, reason, nextIndex: 1, storedBytes: 0 };
    reader.cutFrom = reader.position;
    lastCheckpoint = reader.position.header ? { salt1: reader.position.header.salt1, frame: reader.position.frame } : undefined;
    baseInFlight = true;
    moveTo('base-pending');
    stats.generationsStarted++;
    metrics?.generationsStarted.inc({ reason });
    log.info({ generation: id, reason, detail: contiguous ? undefined : need.detail, baseAt }, 'WAL generation started');
    const meta: Omit<GenerationMeta, 'base'> = {
      format: 'tapstack-wal-generation/1',
      generation: id,
      createdAt: new Date(baseAt).toISOString(),
      baseAt,
      reason,
      previous,
      pageSize: reader.position.header?.pageSize ?? 0,
      start: positionToJson(reader.position),
      encryption: { recipients: [...opts.encryption.recipients], passphrase: opts.encryption.passphrase !== undefined },
      sqliteVersion: d.sqliteVersion,
    };
    queue.push({ kind: 'base', generation: id, size: fs.statSync(opts.dbFile).size, meta });
    return true;
  }

  // ------------------------------------------------------------------ uploads

  async function stored(item: QueueItem): Promise<void> {
    const r = await storeItem(item, { target: opts.target, encryption: opts.encryption, dbFile: opts.dbFile });
    if (r.kind === 'confirm') return;
    if (r.kind === 'base') {
      baseInFlight = false;
      stats.bytes += r.meta.base.size;
      metrics?.bytes.inc(r.meta.base.size);
      persist(item.generation, 0, r.meta.start, r.meta.baseAt);
      durable = { index: 0, committedUntil: r.meta.baseAt, lastUploadAt: now() };
      if (gen?.id === item.generation) {
        if (phase === 'base-pending') moveTo('running');
        attemptFailures = 0;
        gen.storedBytes += r.meta.base.size;
        metrics?.generationStart.set(r.meta.baseAt / 1000);
      }
      log.info({ generation: item.generation, bytes: r.meta.base.size }, 'WAL generation base stored');
      return;
    }
    if (item.kind !== 'segment') return;
    const uploadedAt = now();
    stats.segments++;
    stats.bytes += r.size;
    metrics?.segments.inc();
    metrics?.bytes.inc(r.size);
    metrics?.lastDurableCommit.set(item.committedUntil / 1000);
    if (gen?.id === item.generation) gen.storedBytes += r.size;
    persist(item.generation, item.index, positionToJson(item.after), item.committedUntil);
    durable = { index: item.index, committedUntil: item.committedUntil, lastUploadAt: uploadedAt };
    opts.onSegment?.({ generation: item.generation, index: item.index, firstCommitAt: item.firstCommitAt, committedUntil: item.committedUntil, key: r.key, size: r.size, sha256: r.sha256, uploadedAt, txns: item.txns, lastScanStartedAt: item.lastScanStartedAt });
  }

  function uploadFailed(item: QueueItem, err: Error, failures: number): void {
    lastError = err.message;
    metrics?.uploadFailures.inc();
    log.warn({ err: lastError, kind: item.kind, generation: item.generation, failures }, 'WAL upload failed');
    if (queue.items[0] !== item) return; // dropped meanwhile
    if (item.kind === 'confirm') queue.items.shift(); // only informative: never retried
    else if (item.kind === 'base') abandon('base-failed', `base upload failed: ${lastError}`);
    else if (unshippedBytes() > maxPendingBytes / 2 || stopping) abandon('target-backlog', `the target is behind by more than ${maxPendingBytes / 2} bytes: ${lastError}`);
  }

  function persist(generation: string, index: number, pos: ReturnType<typeof positionToJson>, committedUntil: number): void {
    writeState(stateFile, { format: 'tapstack-wal-shipper-state/1', dbFile: opts.dbFile, target: opts.target.name, generation, index, position: pos, committedUntil, updatedAt: now() });
  }

  // ------------------------------------------------------------------ the loop

  async function tick(): Promise<void> {
    if (phase === 'need-generation') {
      // Earlier segments (and a base) still upload first, in order.
      if (now() < nextAttemptAt || queue.items.some((q) => q.kind === 'base')) return;
      if (!startGeneration(false)) {
        attemptFailures++;
        nextAttemptAt = now() + backoff(attemptFailures);
      }
      return;
    }
    if (!isShipping(phase)) return;
    const s = scanInto(false);
    if (s.kind === 'broken') return discontinuity(s.code, s.detail);
    // The hold may move forward only once the frames up to the WAL's end are ours (README), and
    // not at all while it freezes the database file for the base copy.
    if (!baseInFlight && s.kind === 'done') db!.renewHold();
    cutSegments(false);
    if (baseInFlight || !gen) return;
    confirm(false);
    if (now() - gen.baseAt >= rolloverMs || gen.storedBytes >= rolloverBytes) {
      startGeneration(true);
      return;
    }
    if (walGrowth(reader.position, lastCheckpoint) >= checkpointBytes && unshippedBytes() < maxPendingBytes / 2) checkpoint();
  }

  /** Passes of `tick` every `scanMs` after the previous one ended, until stop. */
  function schedule(): void {
    if (phase === 'stopped' || stopping) return;
    const onError = (err: Error) => {
      lastError = err.message;
      log.error({ err }, 'WAL shipper tick failed');
    };
    loop = every(scanMs, tick, { log, what: 'WAL shipper tick', immediate: false, unref: true, onError });
  }

  /** Resume the generation of the state file if the target and the WAL prove nothing was lost. */
  async function resume(): Promise<boolean> {
    const c = await checkResume({ stateFile, dbFile: opts.dbFile, walFile, target: opts.target });
    const fail = (detail: string) => {
      need = c.state ? { code: 'resume-failed', detail, previous: { generation: c.state.generation, index: c.state.index, committedUntil: c.state.committedUntil, contiguous: false } } : { code: 'first-start', detail, previous: null };
      gen = undefined;
      reader.pending = [];
      return false;
    };
    if (!c.ok) return fail(c.detail);
    gen = { id: c.state.generation, baseAt: c.meta.baseAt, reason: c.meta.reason, nextIndex: c.state.index + 1, storedBytes: 0 };
    reader.position = c.position;
    reader.cutFrom = c.position;
    reader.lastStamp = Math.max(reader.lastStamp, c.state.committedUntil);
    durable = { index: c.state.index, committedUntil: c.state.committedUntil };
    // Nothing held the WAL while we were away: read what was committed meanwhile (strictly, no
    // reset accepted) without the lock, then the rest under it, and only then take the hold.
    const first = scanInto(true);
    if (first.kind === 'broken') return fail(`${first.detail} while the shipper was stopped`);
    if (first.kind === 'more') return fail('more was committed while the shipper was stopped than maxPendingBytes: a new base is cheaper');
    const d = db!;
    if (!d.lockWrites()) return fail('the write lock stayed busy');
    try {
      const rest = scanInto(true, true);
      if (rest.kind === 'broken') return fail(`${rest.detail} while the shipper was stopped`);
      d.renewHold();
    } finally {
      d.unlockWrites();
    }
    return true;
  }

  return {
    async start() {
      if (phase !== 'stopped') return;
      stopping = false;
      db = openShipperDb(opts.dbFile, { busyTimeoutMs: opts.busyTimeoutMs ?? 2000 });
      moveTo('running');
      let resumed = false;
      try {
        resumed = await resume();
      } catch (err) {
        need = { code: 'resume-failed', detail: (err as Error).message, previous: null };
        gen = undefined;
        reader.pending = [];
      }
      if (resumed) {
        log.info({ generation: gen?.id, index: durable.index }, 'WAL shipping resumed');
        cutSegments(true);
      } else {
        if (need.code !== 'first-start') noteDiscontinuity(need.code, need.detail);
        moveTo('need-generation');
        nextAttemptAt = 0;
        await tick();
      }
      schedule();
    },

    async flush(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await loop?.settled();
        if (isShipping(phase)) {
          const s = scanInto(false);
          if (s.kind === 'broken') discontinuity(s.code, s.detail);
          else cutSegments(true);
        }
        if (queue.items.length === 0 && reader.pending.length === 0 && phase === 'running') return;
        await (queue.running() ?? sleep(Math.min(50, scanMs)));
      }
      throw new Error(`WAL flush: ${queue.items.length} uploads still queued after ${timeoutMs} ms (${lastError ?? 'no error'})`);
    },

    async stop() {
      if (phase === 'stopped') return;
      stopping = true;
      await loop?.stop();
      loop = undefined;
      const deadline = Date.now() + (opts.stopTimeoutMs ?? 10_000);
      const drain = async () => {
        while (queue.items.length > 0 && Date.now() < deadline) await Promise.race([queue.pump(), sleep(Math.max(1, deadline - Date.now()))]);
      };
      if (isShipping(phase) && gen) {
        if (!baseInFlight) settleForStop(db!, stalls);
        const s = scanInto(false);
        if (s.kind !== 'broken') cutSegments(true);
        await drain();
        // A clean stop: the target learns that nothing else was committed up to now.
        if (s.kind !== 'broken') confirm(true);
      }
      await drain();
      if (queue.items.length > 0) log.warn({ queued: queue.items.length }, 'WAL shipper stopped with uploads still queued; the next start resumes from the last stored segment or starts a new generation');
      moveTo('stopped');
      queue.clear();
      await Promise.race([queue.running(), sleep(1000)]);
      db?.close();
      db = undefined;
      reader.pending = [];
      gen = undefined;
      baseInFlight = false;
      reader.position = EMPTY;
      stopping = false;
    },

    status() {
      return {
        state: stopping && phase !== 'stopped' ? 'stopping' : phase,
        generation: gen?.id,
        generationBaseAt: gen?.baseAt,
        generationReason: gen?.reason,
        generationsStarted: stats.generationsStarted,
        lastDiscontinuity,
        index: durable.index,
        committedUntil: durable.committedUntil,
        lastUploadAt: durable.lastUploadAt,
        lagMs: lagMs(),
        pendingTxns: reader.pending.length + queue.items.reduce((n, i) => n + (i.kind === 'segment' ? i.txns : 0), 0),
        pendingBytes: unshippedBytes(),
        walBytes: reader.position.header ? reader.position.frame * frameBytes(reader.position.header.pageSize) : 0,
        segmentsShipped: stats.segments,
        bytesShipped: stats.bytes,
        checkpoints: stalls.summary(),
        lastError,
      };
    },
  };
}
