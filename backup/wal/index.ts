/**
 * Continuous WAL shipping and point-in-time restore (issue 6 §4). Design, guarantees and the
 * object layout: backup/wal/README.md.
 *
 *   createWalShipper(opts)           ships committed transactions of one SQLite file to one target
 *   restoreAt(opts)                  rebuilds the database as of a time into a file
 *   planRestore(target, at)          what restoreAt would download and apply (for --dry-run)
 *   windowOf(target)                 the restorable window {from, to}, generations and gaps
 *   listWalGenerations(target)       generations on a target (for `backup list`)
 *   pruneWal({target, keepFrom})     retention of generations
 *   createWalPointInTime()           the engine's PointInTimeExtension (backup restore --at)
 */
export { createWalShipper } from './shipper.js';
export type { ShippedSegment, WalShipper, WalShipperOptions, WalShipperStatus } from './types.js';
export { restoreAt, type RestoreAtOptions, type WalRestoreResult } from './restore.js';
export { listWalGenerations, planRestore, pruneWal, windowOf, type RestorePlan, type WalGap, type WalGenerationInfo, type WalSegmentObject, type WalWindow } from './catalog.js';
export { WalError, isWalError, type WalErrorCode } from './errors.js';
export { WAL_PREFIX, type GenerationMeta } from './segment.js';
export { createWalPointInTime, type WalPointInTime } from './pitr.js';
