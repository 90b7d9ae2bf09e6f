/**
 * The shipper's own SQLite connections and the WAL locks it plays with (README "Why no frame is
 * lost"):
 *   - two read-only "hold" connections, one of which is always inside a read transaction. A reader
 *     holding a WAL read mark stops any checkpoint from copying frames beyond that mark and stops
 *     the WAL from being restarted; a reader on mark 0 stops checkpoints altogether. The hold is
 *     renewed (new one first, then the old one ended) only after the frames up to the WAL's end were
 *     read, so a WAL reset can only ever overwrite frames the shipper already has.
 *   - `w`: takes the write lock (BEGIN IMMEDIATE) while the shipper reads the last frames and
 *     checkpoints; it never writes.
 *   - `c`: runs the checkpoints (a checkpoint cannot run inside a transaction: SQLITE_LOCKED).
 * All four run with wal_autocheckpoint = 0. Closing order matters: the read-write connections first,
 * while the read-only ones still hold their shared lock, so that none of ours is ever the "last
 * connection" that would checkpoint and delete the WAL on close.
 */
import BetterSqlite3 from 'better-sqlite3';
import { WalError } from './errors.js';

export interface CheckpointResult {
  busy: boolean;
  /** Frames in the WAL (mxFrame) and frames now copied into the database (nBackfill). */
  log: number;
  checkpointed: number;
}

export interface ShipperDb {
  readonly sqliteVersion: string;
  /** Start a read transaction on the idle hold connection, then end the other one's. */
  renewHold(): void;
  /** End both holds (only while `w` holds the write lock, or when continuity no longer matters). */
  releaseHolds(): void;
  isHolding(): boolean;
  /** BEGIN IMMEDIATE on `w`; false if another writer kept the lock past the busy timeout. */
  lockWrites(): boolean;
  /** End the write transaction: ROLLBACK, or COMMIT after `rewriteHeader`. */
  unlockWrites(): void;
  /**
   * Inside `lockWrites`: rewrite page 1 with identical content (`PRAGMA user_version` set to its own
   * value) and commit. A real, empty-in-effect transaction: used on a clean stop so that a WAL left
   * completely checkpointed restarts now, while the shipper watches, instead of after it stopped.
   */
  commitHeaderRewrite(): void;
  /** `busyMs`: how long a TRUNCATE may wait for the write lock and for readers (default 0). */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE', busyMs?: number): CheckpointResult;
  close(): void;
}

export function openShipperDb(dbFile: string, opts: { busyTimeoutMs: number }): ShipperDb {
  const w = new BetterSqlite3(dbFile, { fileMustExist: true, timeout: opts.busyTimeoutMs });
  const mode = String(w.pragma('journal_mode', { simple: true })).toLowerCase();
  if (mode !== 'wal') {
    w.close();
    throw new WalError('not-wal', `${dbFile} is in journal_mode=${mode}: continuous shipping needs WAL mode`, { exitCode: 2 });
  }
  w.pragma('wal_autocheckpoint = 0');
  // Busy timeout 0: while `w` holds the write lock a RESTART/TRUNCATE would wait for it in vain.
  const c = new BetterSqlite3(dbFile, { fileMustExist: true, timeout: 0 });
  c.pragma('wal_autocheckpoint = 0');
  const holds = [0, 1].map(() => new BetterSqlite3(dbFile, { readonly: true, fileMustExist: true, timeout: opts.busyTimeoutMs }));
  const touch = holds.map((h) => h.prepare('SELECT count(*) FROM sqlite_master'));
  let active = -1;
  const sqliteVersion = String((w.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);

  const end = (i: number) => {
    const h = holds[i]!;
    if (h.inTransaction) h.exec('COMMIT');
  };

  return {
    sqliteVersion,
    renewHold() {
      const next = active === 0 ? 1 : 0;
      const h = holds[next]!;
      if (h.inTransaction) h.exec('COMMIT');
      // A deferred BEGIN takes no lock; the first read does (and pins the read mark).
      h.exec('BEGIN');
      touch[next]!.get();
      if (active >= 0) end(active);
      active = next;
    },
    releaseHolds() {
      end(0);
      end(1);
      active = -1;
    },
    isHolding: () => active >= 0,
    lockWrites() {
      try {
        w.exec('BEGIN IMMEDIATE');
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
        throw err;
      }
    },
    unlockWrites() {
      if (w.inTransaction) w.exec('ROLLBACK');
    },
    commitHeaderRewrite() {
      const v = Number(w.pragma('user_version', { simple: true }));
      w.pragma(`user_version = ${v}`);
      w.exec('COMMIT');
    },
    checkpoint(mode, busyMs = 0) {
      if (busyMs > 0) c.pragma(`busy_timeout = ${busyMs}`);
      let row: { busy: number; log: number; checkpointed: number } | undefined;
      try {
        row = (c.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[])[0];
      } finally {
        if (busyMs > 0) c.pragma('busy_timeout = 0');
      }
      return { busy: row?.busy === 1, log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 };
    },
    close() {
      if (w.inTransaction) w.exec('ROLLBACK');
      w.close();
      c.close();
      for (const h of holds) {
        if (h.inTransaction) h.exec('COMMIT');
        h.close();
      }
      active = -1;
    },
  };
}
