/**
 * The small database wrapper: one SQLite file in WAL mode, pragmas applied once at open,
 * prepared statements cached, transactions explicit (IMMEDIATE for writers, so two processes
 * never both read-then-write the same row: the second waits on busy_timeout instead).
 */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

export type Row = Record<string, unknown>;

export interface Db {
  readonly raw: BetterSqlite3.Database;
  readonly file: string;
  /** Cached prepared statement. */
  stmt(sql: string): BetterSqlite3.Statement;
  /** Run `fn` in one BEGIN IMMEDIATE transaction; rolls back on throw. */
  write<T>(fn: () => T): T;
  /** Checkpoint the WAL into the main file (used at shutdown); PASSIVE when `walAutocheckpoint` is set. */
  checkpoint(): void;
  /**
   * One PASSIVE checkpoint (never waits, never blocks a writer): the WAL's frames, how many of
   * them are now in the main file, and whether another checkpoint held the lock.
   */
  checkpointPassive(): { walFrames: number; checkpointed: number; busy: boolean };
  /** Changes whenever another connection has committed since this connection last asked (PRAGMA data_version). */
  dataVersion(): number;
  close(): void;
}

export interface OpenOptions {
  readonly?: boolean;
  /** Fail instead of creating a new, empty database file (admin tools). */
  mustExist?: boolean;
  synchronous?: 'FULL' | 'NORMAL';
  busyTimeoutMs?: number;
  /**
   * `PRAGMA wal_autocheckpoint` in pages. Set (to CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES) when
   * continuous backup ships the WAL (backup/wal/README.md): its shipper then owns checkpoints and
   * SQLite's own automatic checkpoint is only a safety valve for a WAL that grew far too big
   * because the shipper is down. Also turns `checkpoint()` into a PASSIVE checkpoint: a TRUNCATE
   * would reset the WAL behind the shipper (or wait on the shipper's read lock while it holds the
   * write lock, stalling every writer).
   */
  walAutocheckpoint?: number;
  /**
   * A checkpoint thread owns this file's checkpoints (services/writer/checkpointer.ts, the writer
   * outside continuous mode): SQLite's automatic checkpoint on this connection is then only the
   * safety valve (CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES) and does not run inside its commits;
   * `checkpoint()` stays TRUNCATE.
   */
  checkpointThread?: boolean;
  /**
   * `PRAGMA journal_size_limit` (bytes), outside continuous mode: when the WAL is restarted after
   * a complete checkpoint, a WAL file that grew past this (a burst, a reader holding checkpoints
   * back) is truncated to it instead of keeping its largest size on the disk for good.
   */
  walSizeLimitBytes?: number;
}

/**
 * The safety-valve size for continuous mode and under a checkpoint thread: 65,536 pages (256 MiB
 * with 4 KiB pages). SQLite's automatic checkpoint is PASSIVE: while the shipper runs it copies
 * only frames up to the shipper's read mark and cannot restart the WAL, so nothing is lost; when
 * the shipper is down it bounds the WAL (the shipper then starts a new generation when it comes
 * back).
 */
export const CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES = 65_536;

/**
 * The default walSizeLimitBytes: the safety valve's size (256 MiB with 4 KiB pages), above the WAL
 * of a second's work at saturation (~20,000–40,000 frames, 80–160 MiB, in the bench). It was 64 MiB,
 * below that, and the first commit after each restart cut the file back: an ftruncate of the
 * excess inside the writer's transaction (43 ms for 186 MiB on the bench's VM), then the file grew
 * again.
 */
export const WAL_SIZE_LIMIT_BYTES = CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES * 4096;

/** Open (creating the parent directory for writers) and configure a database file. */
export function openDb(file: string, opts: OpenOptions = {}): Db {
  const mustExist = Boolean(opts.readonly || opts.mustExist);
  if (!mustExist) fs.mkdirSync(path.dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file, { readonly: opts.readonly ?? false, fileMustExist: mustExist });
  raw.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  if (!opts.readonly) {
    // Takes effect only in a file that has no table yet (a new install): archived weeks then give
    // their pages back with `incremental_vacuum` (issue 14). An older file keeps auto_vacuum NONE
    // (reusing free pages) until `tapstack archive compact`.
    raw.pragma('auto_vacuum = INCREMENTAL');
    const mode = raw.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not switch ${file} to WAL (got ${String(mode)})`);
    raw.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    const autocheckpoint = opts.walAutocheckpoint ?? (opts.checkpointThread ? CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES : undefined);
    if (autocheckpoint !== undefined) raw.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor(autocheckpoint))}`);
    // Not in continuous mode: there the shipper owns the WAL's restarts.
    if (opts.walAutocheckpoint === undefined) raw.pragma(`journal_size_limit = ${Math.max(0, Math.floor(opts.walSizeLimitBytes ?? WAL_SIZE_LIMIT_BYTES))}`);
  }
  raw.pragma('foreign_keys = ON');

  const cache = new Map<string, BetterSqlite3.Statement>();
  const stmt = (sql: string) => {
    let s = cache.get(sql);
    if (!s) {
      s = raw.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  return {
    raw,
    file,
    stmt,
    write: <T>(fn: () => T): T => raw.transaction(fn).immediate(),
    checkpoint: () => {
      if (!opts.readonly && raw.open) raw.pragma(opts.walAutocheckpoint === undefined ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(PASSIVE)');
    },
    dataVersion: () => Number(raw.pragma('data_version', { simple: true })),
    checkpointPassive: () => {
      const [r] = raw.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      return { walFrames: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0, busy: r?.busy === 1 };
    },
    close: () => {
      if (raw.open) raw.close();
    },
  };
}
