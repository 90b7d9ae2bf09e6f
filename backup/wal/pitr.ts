/**
 * The engine's point-in-time hook (backup/engine/restore.ts `PointInTimeExtension`), implemented
 * with continuous-mode objects. Typed structurally so backup/wal does not depend on the engine.
 *
 * `replay` does not roll the engine's snapshot forward: that copy's exact WAL position is unknown
 * (and `vacuum-into` copies are not page-exact), so it rebuilds the database from the WAL
 * generation's own page-exact base instead, and keeps the snapshot when that is newer.
 *
 * When the chain cannot reach `at` (a missing or damaged segment, a gap between generations) it
 * replays every intact segment up to the hole and then fails (WalError with the shortfall's kind,
 * naming the gap and the exact point reached), unless `acceptGap`: then the restore is that point
 * and the result says so. No continuous backup at all, or a time before its window, is not a
 * gap: the snapshot is the restore, with a note saying how far it is from `at`.
 */
import fs from 'node:fs';
import type { Logger } from '../../services/shared/logger.js';
import type { DecryptionSpec, Target } from '../contracts.js';
import { planRestore, windowOf, type WalShortfall } from './catalog.js';
import { isWalError } from './errors.js';
import { restoreAt, shortfallError } from './restore.js';

export interface PitrResult {
  replayedUntil: number;
  segments: number;
  /** Set when the restore stops short of `at` and the caller accepted it. */
  shortfall?: WalShortfall;
  /** Why the snapshot was kept as it is (no continuous backup covers `at`). */
  note?: string;
}

export interface WalPointInTime {
  window(target: Target, catalog?: unknown): Promise<{ from: number; to: number } | undefined>;
  /** What replay would reach, without downloading anything (for --dry-run). */
  preview(target: Target, base: { snapshotAt: number }, at: number): Promise<{ restoresTo: number; shortfall?: WalShortfall; note?: string }>;
  replay(target: Target, base: { snapshotAt: number }, dbFile: string, at: number, spec: DecryptionSpec, opts?: { acceptGap?: boolean }): Promise<PitrResult>;
}

const iso = (t: number) => new Date(t).toISOString();

export function createWalPointInTime(opts: { log?: Logger } = {}): WalPointInTime {
  const log = opts.log?.child({ module: 'wal-pitr' });
  const noWal = (base: { snapshotAt: number }, at: number, why: string) => ({
    replayedUntil: base.snapshotAt,
    segments: 0,
    ...(at > base.snapshotAt ? { note: `${why}: restoring the snapshot of ${iso(base.snapshotAt)}, ${Math.round((at - base.snapshotAt) / 1000)} s before the requested ${iso(at)}` } : {}),
  });
  const plan = async (target: Target, at: number) => {
    try {
      return await planRestore(target, at, { allowGap: true });
    } catch (err) {
      if (isWalError(err, 'no-backups')) return 'no continuous (WAL) backup on this target';
      if (isWalError(err, 'before-window')) return `the continuous (WAL) backups start after ${iso(at)}`;
      throw err;
    }
  };
  return {
    async window(target) {
      const w = await windowOf(target);
      return w ? { from: w.from, to: w.to } : undefined;
    },
    async preview(target, base, at) {
      const p = await plan(target, at);
      if (typeof p === 'string') {
        const n = noWal(base, at, p);
        return { restoresTo: n.replayedUntil, ...(n.note ? { note: n.note } : {}) };
      }
      const restoresTo = Math.max(p.restoresTo, base.snapshotAt);
      return { restoresTo, ...(p.shortfall ? { shortfall: { ...p.shortfall, reachedAt: restoresTo } } : {}) };
    },
    async replay(target, base, dbFile, at, spec, o = {}) {
      const p = await plan(target, at);
      if (typeof p === 'string') return noWal(base, at, p);
      const keepSnapshot = (): PitrResult => {
        if (!p.shortfall) return { replayedUntil: base.snapshotAt, segments: 0 };
        const shortfall = { ...p.shortfall, reachedAt: base.snapshotAt, lostFrom: Math.max(p.shortfall.lostFrom, base.snapshotAt) };
        if (!o.acceptGap) throw shortfallError(shortfall);
        return { replayedUntil: base.snapshotAt, segments: 0, shortfall };
      };
      // The snapshot is already newer than anything the WAL generation reaches.
      if (p.restoresTo < base.snapshotAt) return keepSnapshot();
      // Into a side file: the snapshot stays if the replay reaches less (restoresTo is an upper bound).
      const side = `${dbFile}.wal-replay`;
      try {
        const r = await restoreAt({ target, identities: spec.identities, ...(spec.passphrase === undefined ? {} : { passphrase: spec.passphrase }), at, outFile: side, overwrite: true, allowGap: true, ...(log ? { log } : {}) });
        if (r.restoredTo < base.snapshotAt) return keepSnapshot();
        if (r.shortfall && !o.acceptGap) throw shortfallError(r.shortfall);
        for (const s of ['-wal', '-shm', '-journal']) fs.rmSync(dbFile + s, { force: true });
        fs.renameSync(side, dbFile);
        return { replayedUntil: r.restoredTo, segments: r.segments, ...(r.shortfall ? { shortfall: r.shortfall } : {}) };
      } finally {
        fs.rmSync(side, { force: true });
      }
    },
  };
}
