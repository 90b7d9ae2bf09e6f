/** The public shapes of the WAL shipper (shipper.ts). */
import type { Registry } from 'prom-client';
import type { Logger } from '../../services/shared/logger.js';
import type { EncryptionSpec, Target, WalSegmentInfo } from '../contracts.js';

export interface WalShipperOptions {
  dbFile: string;
  target: Target;
  encryption: EncryptionSpec;
  log: Logger;
  /** How often read transactions are cut into a segment and uploaded (config.backup.continuousIntervalMs). Default 1000. */
  intervalMs?: number;
  /** How often the WAL is read; bounds how late a commit's timestamp can be. Default min(100, intervalMs). */
  scanMs?: number;
  now?: () => number;
  /** WAL growth past which the shipper checkpoints. Default 4 MiB (SQLite's own default is ~1000 pages). */
  checkpointBytes?: number;
  /** Soft size of one segment (a larger transaction makes a larger segment). Default 16 MiB. */
  maxSegmentBytes?: number;
  /** Frames read but not yet durable, at most; beyond it the generation is given up (target down). Default 64 MiB. */
  maxPendingBytes?: number;
  /** Start a new generation (new base) after this long or this many stored bytes. Default 24 h / 1 GiB. */
  rolloverMs?: number;
  rolloverBytes?: number;
  /** How long the shipper waits for the write lock. Default 2000 ms. */
  busyTimeoutMs?: number;
  /** Default `<dbFile>-walship-<target>.json`. */
  stateFile?: string;
  registry?: Registry;
  /** Called after each segment is durable (bench, tests). */
  onSegment?: (s: ShippedSegment) => void;
  /** Called after each write-lock hold (checkpoint, generation start, clean stop) with its length. */
  onStall?: (ms: number) => void;
  /** While idle, how often to confirm on the target that nothing more was committed. Default 30 s. */
  heartbeatMs?: number;
  /** How long `stop()` waits for queued uploads. Default 10 s. */
  stopTimeoutMs?: number;
}

export interface ShippedSegment extends WalSegmentInfo {
  uploadedAt: number;
  txns: number;
  /** Start of the latest scan whose transactions are in this segment: every commit before it is durable now. */
  lastScanStartedAt: number;
}

export interface WalShipperStatus {
  state: 'stopped' | 'running' | 'base-pending' | 'need-generation' | 'stopping';
  generation?: string;
  generationBaseAt?: number;
  generationReason?: string;
  /** Generations this shipper started since `start()` (each is a new base upload). */
  generationsStarted: number;
  /** The last time continuity was lost (or could not be proven on start-up), and why. */
  lastDiscontinuity?: { at: number; code: string; reason: string };
  /** Last segment index durable on the target, and the newest transaction time it covers. */
  index: number;
  committedUntil?: number;
  lastUploadAt?: number;
  /** Age of the oldest transaction read but not yet durable: the current RPO (0 when caught up). */
  lagMs: number;
  pendingTxns: number;
  pendingBytes: number;
  /** Frames in the current WAL epoch × frame size. */
  walBytes: number;
  segmentsShipped: number;
  bytesShipped: number;
  /** Write-lock holds for checkpoints and generation starts (the writers' stall). */
  checkpoints: { count: number; partial: number; lastAt?: number; lastStallMs?: number; maxStallMs: number; p50StallMs?: number; p99StallMs?: number };
  lastError?: string;
}

export interface WalShipper {
  /** Resume the previous generation if provably continuous, else start a new one. */
  start(): Promise<void>;
  /** Cut everything read so far into segments and wait until the target holds them. */
  flush(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  status(): WalShipperStatus;
}
