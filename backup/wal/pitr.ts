/**
 * The engine's point-in-time hook (backup/engine/restore.ts `PointInTimeExtension`), implemented
 * with continuous-mode objects. Typed structurally so backup/wal does not depend on the engine.
 *
 * `replay` does not roll the engine's snapshot forward: that copy's exact WAL position is unknown
 * (and `vacuum-into` copies are not page-exact), so it rebuilds the database from the WAL
 * generation's own page-exact base instead. It keeps the snapshot when the WAL cannot reach a
 * newer point at or before `at` (time before the window, in a gap, past a missing segment).
 */
import type { Logger } from '../../services/shared/logger.js';
import type { DecryptionSpec, Target } from '../contracts.js';
import { planRestore, windowOf } from './catalog.js';
import { isWalError } from './errors.js';
import { restoreAt } from './restore.js';

export interface WalPointInTime {
  window(target: Target, catalog?: unknown): Promise<{ from: number; to: number } | undefined>;
  replay(target: Target, base: { snapshotAt: number }, dbFile: string, at: number, spec: DecryptionSpec): Promise<{ replayedUntil: number; segments: number }>;
}

export function createWalPointInTime(opts: { log?: Logger } = {}): WalPointInTime {
  const log = opts.log?.child({ module: 'wal-pitr' });
  return {
    async window(target) {
      const w = await windowOf(target);
      return w ? { from: w.from, to: w.to } : undefined;
    },
    async replay(target, base, dbFile, at, spec) {
      const keep = { replayedUntil: base.snapshotAt, segments: 0 };
      let plan;
      try {
        plan = await planRestore(target, at);
      } catch (err) {
        if (isWalError(err, 'no-backups') || isWalError(err, 'before-window') || isWalError(err, 'in-gap') || isWalError(err, 'missing-segment')) {
          log?.warn({ err: (err as Error).message }, 'continuous backup cannot reach the requested time: keeping the snapshot');
          return keep;
        }
        throw err;
      }
      if (plan.restoresTo < base.snapshotAt) return keep;
      const r = await restoreAt({ target, identities: spec.identities, ...(spec.passphrase === undefined ? {} : { passphrase: spec.passphrase }), at, outFile: dbFile, overwrite: true, ...(log ? { log } : {}) });
      return { replayedUntil: r.restoredTo, segments: r.segments };
    },
  };
}
