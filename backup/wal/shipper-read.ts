/**
 * The reading part of the WAL shipper: committed transactions read from `<db>-wal` into memory,
 * stamped with the time they were seen (the PITR timestamp), cut into encrypted segments for the
 * upload queue, and the confirmations that the segments hold everything committed before the last
 * complete scan. The shipper (shipper.ts) decides when; this part owns the read position.
 */
import type { Logger } from '../../services/shared/logger.js';
import type { EncryptionSpec } from '../contracts.js';
import { encryptBuffer } from '../crypto/index.js';
import { encodeSegment, packSegment, type StampedTxn } from './segment.js';
import type { UploadQueue } from './upload.js';
import { sameEpoch, scanWal, type WalPosition } from './wal-file.js';

export type Scan = { kind: 'done' } | { kind: 'more' } | { kind: 'broken'; code: string; detail: string };

export const EMPTY: WalPosition = { frame: 0, checksum: [0, 0] };

export interface ReaderConfig {
  walFile: string;
  now: () => number;
  log: Logger;
  encryption: EncryptionSpec;
  intervalMs: number;
  heartbeatMs: number;
  maxSegmentBytes: number;
  maxPendingBytes: number;
}

export class WalReader {
  /** After the last transaction read (frames up to here are ours, in memory or stored). */
  position: WalPosition = EMPTY;
  /** Read, not yet cut into segments. */
  pending: StampedTxn[] = [];
  /** Where the next segment continues from (the last cut segment's end, or the base's). */
  cutFrom: WalPosition = EMPTY;
  lastStamp = 0;
  /** Start of the last scan that read the WAL to its end. */
  lastCompleteScanAt = 0;
  private lastCutAt = 0;
  private lastConfirm = { at: 0, until: 0 };

  constructor(
    private readonly c: ReaderConfig,
    private readonly queue: UploadQueue,
  ) {}

  /** Monotonic detection time. */
  stamp(): number {
    return (this.lastStamp = Math.max(this.lastStamp, this.c.now()));
  }

  pendingBytes(): number {
    return this.pending.reduce((n, t) => n + t.frames.length, 0);
  }

  unshippedBytes(): number {
    return this.pendingBytes() + this.queue.bytes();
  }

  /** Forget what was read: a new base will cover it. */
  forget(): void {
    this.position = EMPTY;
    this.pending = [];
  }

  /**
   * Read newly committed transactions into `pending`, up to the memory budget (`unlimited`: to the
   * WAL's end, used under the write lock). `strict`: accept no WAL reset (start-up).
   */
  scanInto(strict: boolean, unlimited = false): Scan {
    const { maxPendingBytes, maxSegmentBytes } = this.c;
    let wide = unlimited;
    for (;;) {
      const budget = unlimited ? Number.MAX_SAFE_INTEGER : maxPendingBytes - this.unshippedBytes();
      if (budget <= 0) return { kind: 'more' }; // back-pressure: uploads drain first
      const scanStartedAt = this.c.now();
      const r = scanWal(this.c.walFile, this.position, { maxBytes: wide ? budget : Math.min(budget, maxSegmentBytes), strict });
      if (r.kind === 'discontinuity') return { kind: 'broken', code: 'wal-reset', detail: r.reason };
      if (r.kind === 'oversized') {
        // A transaction bigger than one read: read it with the whole memory budget.
        if (!wide && budget > maxSegmentBytes) {
          wide = true;
          continue;
        }
        if (this.pending.length === 0 && this.queue.items.length === 0) return { kind: 'broken', code: 'oversized-transaction', detail: `a transaction larger than ${maxPendingBytes} bytes` };
        return { kind: 'more' };
      }
      wide = unlimited;
      const at = this.stamp();
      for (const t of r.txns) this.pending.push({ ...t, at, scanStartedAt });
      this.position = r.position;
      if (r.reset !== 'none') this.c.log.debug({ reset: r.reset }, 'WAL reset after a complete checkpoint: same generation continues');
      if (!r.more) {
        this.lastCompleteScanAt = scanStartedAt;
        return { kind: 'done' };
      }
    }
  }

  /** Cut pending transactions into segments (one WAL epoch each, ≤ maxSegmentBytes) and queue them. */
  cutSegments(gen: { id: string; nextIndex: number } | undefined, force: boolean): void {
    const { now, intervalMs, maxSegmentBytes } = this.c;
    if (!gen || this.pending.length === 0) return;
    if (!force && now() - this.lastCutAt < intervalMs && this.pendingBytes() < maxSegmentBytes) return;
    this.lastCutAt = now();
    while (this.pending.length > 0) {
      const first = this.pending[0]!;
      let n = 0;
      let bytes = 0;
      while (n < this.pending.length && sameEpoch(this.pending[n]!.header, first.header) && (n === 0 || bytes + this.pending[n]!.frames.length <= maxSegmentBytes)) {
        bytes += this.pending[n]!.frames.length;
        n++;
      }
      const txns = this.pending.splice(0, n);
      const last = txns[txns.length - 1]!;
      const index = gen.nextIndex++;
      const body = packSegment(encodeSegment(gen.id, index, this.cutFrom, txns)).then((z) => encryptBuffer(this.c.encryption, z));
      body.catch(() => undefined); // awaited (and reported) by the uploader
      this.cutFrom = { header: last.header, frame: last.commitFrame, checksum: last.checksumAfter };
      this.queue.push({ kind: 'segment', generation: gen.id, index, firstCommitAt: first.at, committedUntil: last.at, txns: txns.length, bytes, body, after: this.cutFrom, lastScanStartedAt: Math.max(...txns.map((t) => t.scanStartedAt)) });
    }
  }

  /** Queue a confirmation that the segments hold everything committed before the last full scan. */
  confirm(gen: { id: string; nextIndex: number } | undefined, baseInFlight: boolean, force: boolean): void {
    if (!gen || baseInFlight || this.pending.length > 0 || this.queue.items.length > 0 || this.lastCompleteScanAt <= this.lastConfirm.until) return;
    if (!force && this.c.now() - this.lastConfirm.at < this.c.heartbeatMs) return;
    this.lastConfirm = { at: this.c.now(), until: this.lastCompleteScanAt };
    this.queue.push({ kind: 'confirm', generation: gen.id, index: gen.nextIndex - 1, confirmedUntil: this.lastCompleteScanAt });
  }
}
