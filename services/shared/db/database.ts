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
  /** Checkpoint the WAL into the main file (used at shutdown). */
  checkpoint(): void;
  close(): void;
}

export interface OpenOptions {
  readonly?: boolean;
  /** Fail instead of creating a new, empty database file (admin tools). */
  mustExist?: boolean;
  synchronous?: 'FULL' | 'NORMAL';
  busyTimeoutMs?: number;
}

/** Open (creating the parent directory for writers) and configure a database file. */
export function openDb(file: string, opts: OpenOptions = {}): Db {
  const mustExist = Boolean(opts.readonly || opts.mustExist);
  if (!mustExist) fs.mkdirSync(path.dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file, { readonly: opts.readonly ?? false, fileMustExist: mustExist });
  raw.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  if (!opts.readonly) {
    const mode = raw.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not switch ${file} to WAL (got ${String(mode)})`);
    raw.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
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
      if (!opts.readonly && raw.open) raw.pragma('wal_checkpoint(TRUNCATE)');
    },
    close: () => {
      if (raw.open) raw.close();
    },
  };
}
