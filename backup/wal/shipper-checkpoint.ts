/**
 * The checkpoint part of the WAL shipper. The shipper alone checkpoints: once the WAL grew by
 * `checkpointBytes` it takes the write lock, reads the last frames (so nothing is checkpointed
 * before it was read), checkpoints completely, takes a new read hold and lets go. Also the
 * writer-stall statistics of every write-locked step.
 */
import type { WalMetrics } from './metrics.js';
import type { Scan, WalReader } from './shipper-read.js';
import type { ShipperDb } from './sqlite-locks.js';
import { frameBytes, type WalPosition } from './wal-file.js';

/** How long writers waited on our write lock, per locked step. */
export class StallStats {
  checkpoints = 0;
  partial = 0;
  maxStallMs = 0;
  lastStallMs: number | undefined;
  lastCheckpointAt: number | undefined;
  private readonly stalls: number[] = [];

  constructor(private readonly o: { now: () => number; metrics?: WalMetrics; onStall?: (ms: number) => void }) {}

  record(ms: number, full: boolean): void {
    this.lastStallMs = ms;
    this.maxStallMs = Math.max(this.maxStallMs, ms);
    this.lastCheckpointAt = this.o.now();
    this.stalls.push(ms);
    if (this.stalls.length > 1000) this.stalls.shift();
    if (full) this.checkpoints++;
    else this.partial++;
    this.o.metrics?.checkpointStall.observe(ms / 1000);
    this.o.onStall?.(ms);
  }

  summary() {
    const sorted = [...this.stalls].sort((a, b) => a - b);
    const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : undefined);
    return { count: this.checkpoints, partial: this.partial, lastAt: this.lastCheckpointAt, lastStallMs: this.lastStallMs, maxStallMs: this.maxStallMs, p50StallMs: q(0.5), p99StallMs: q(0.99) };
  }
}

/** Bytes the WAL grew since our last complete checkpoint. */
export function walGrowth(position: WalPosition, lastCheckpoint: { salt1: number; frame: number } | undefined): number {
  if (!position.header) return 0;
  const from = lastCheckpoint && lastCheckpoint.salt1 === position.header.salt1 ? lastCheckpoint.frame : 0;
  return (position.frame - from) * frameBytes(position.header.pageSize);
}

/**
 * One checkpoint: the bulk PASSIVE without blocking writers (up to our hold), then under the write
 * lock read to the WAL's end and checkpoint the rest. `scan` broken: continuity is lost (the caller
 * starts a new generation); `full`: the WAL is completely in the database file.
 */
export function checkpointOnce(d: ShipperDb, reader: WalReader, stalls: StallStats): { scan: Scan; full: boolean } {
  d.checkpoint('PASSIVE');
  if (!d.lockWrites()) return { scan: { kind: 'more' }, full: false };
  const t0 = performance.now();
  let full = false;
  let scan: Scan = { kind: 'done' };
  try {
    scan = reader.scanInto(false, true);
    if (scan.kind === 'broken') return { scan, full };
    d.releaseHolds();
    const ck = d.checkpoint('PASSIVE');
    d.renewHold();
    full = ck.checkpointed >= ck.log;
  } finally {
    d.unlockWrites();
    if (scan.kind !== 'broken') stalls.record(performance.now() - t0, full);
  }
  return { scan, full };
}

/**
 * Before a clean stop: if the WAL is completely checkpointed, the next writer restarts it — after
 * we stopped, where the next start could not tell that restart from one that lost frames. So
 * make it restart now (a no-op header rewrite under our write lock); its frame ships with the rest.
 */
export function settleForStop(d: ShipperDb, stalls: StallStats): void {
  if (!d.lockWrites()) return;
  const t0 = performance.now();
  try {
    const ck = d.checkpoint('PASSIVE');
    if (ck.checkpointed >= ck.log) d.commitHeaderRewrite();
  } finally {
    d.unlockWrites();
    stalls.record(performance.now() - t0, true);
  }
}
