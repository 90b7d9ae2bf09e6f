/**
 * One consistent snapshot of the appliance, staged on local disk (TAPSTACK_BACKUP_STAGING_DIR)
 * before upload: the SQLite copy, the Redis RDB, the config/secrets/TLS files; every file hashed
 * whole and in fixed-size chunks. The staged copy is what every target of the run receives, and it
 * is removed afterwards (a killed run's leftovers are removed by the next run, under the lock).
 */
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../services/shared/config.js';
import { CHUNK_SIZE } from './manifest.js';
import { configFiles, DB_NAME, RDB_NAME } from './files.js';
import { snapshotRedis, type RedisSnapshot } from './redis.js';
import { snapshotSqlite, type SqliteSnapshot, type SqliteSnapshotMethod } from './sqlite.js';

export interface PlannedChunk {
  sha256: string;
  /** Format 2: the keyed id the chunk is stored under (absent when staged without a dedup key). */
  id?: string;
  size: number;
  offset: number;
}

export interface StagedFile {
  name: string;
  /** The staged copy. */
  path: string;
  size: number;
  sha256: string;
  /** Permission bits of the original (restored as they were: secrets stay 0600). */
  mode: number;
  chunks: PlannedChunk[];
}

export interface StagedSnapshot {
  dir: string;
  files: StagedFile[];
  sqlite: SqliteSnapshot;
  redis: RedisSnapshot;
  notes: string[];
  /** Wall time of the whole staging (SQLite + Redis + files + hashing). */
  durationMs: number;
  remove(): void;
}

/** Remove staging and drill directories left by killed runs (call under the backup lock). */
export function cleanStaleStaging(stagingDir: string): string[] {
  const removed: string[] = [];
  for (const e of safeReaddir(stagingDir)) {
    if (!e.startsWith('run-') && !e.startsWith('verify-')) continue;
    fs.rmSync(path.join(stagingDir, e), { recursive: true, force: true });
    removed.push(e);
  }
  return removed;
}

export async function stageSnapshot(
  config: Config,
  opts: { backupConfigFile: string; runId: string; sqliteMethod?: SqliteSnapshotMethod; includeRedis?: boolean; chunkSize?: number; dedupKey?: Buffer },
): Promise<StagedSnapshot> {
  const started = performance.now();
  if (!fs.existsSync(config.dbFile)) throw new Error(`no database at ${config.dbFile}: nothing to back up (check TAPSTACK_DATA_DIR)`);
  const dir = path.join(config.backup.stagingDir, `run-${opts.runId}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const notes: string[] = [];
    const sqlite = await snapshotSqlite(config.dbFile, path.join(dir, DB_NAME), { method: opts.sqliteMethod });
    if (sqlite.problem) notes.push(sqlite.problem);
    const staged: { name: string; path: string; mode: number }[] = [{ name: DB_NAME, path: sqlite.file, mode: 0o600 }];

    let redis: RedisSnapshot = { status: 'skipped', reason: 'Redis excluded (--no-redis)' };
    if (opts.includeRedis !== false) redis = await snapshotRedis(config, path.join(dir, RDB_NAME));
    if (redis.status === 'ok') staged.push({ name: RDB_NAME, path: redis.file, mode: 0o600 });
    else notes.push(redis.reason);
    if (redis.status === 'ok' && redis.unchecked) notes.push(redis.unchecked);

    for (const f of configFiles(config, opts.backupConfigFile)) {
      const dest = path.join(dir, 'files', ...f.name.split('/'));
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      let mode: number;
      try {
        mode = fs.statSync(f.path).mode & 0o777;
        fs.copyFileSync(f.path, dest);
      } catch (err) {
        notes.push(`${f.name}: not backed up (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        continue;
      }
      staged.push({ name: f.name, path: dest, mode });
    }

    const files: StagedFile[] = [];
    for (const f of staged) files.push({ name: f.name, path: f.path, mode: f.mode, ...(await hashFile(f.path, opts.chunkSize ?? CHUNK_SIZE, opts.dedupKey)) });
    return { dir, files, sqlite, redis, notes, durationMs: Math.round(performance.now() - started), remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/**
 * SHA-256 of a whole file and of each fixed-size chunk of it; with a dedup key also each chunk's
 * keyed id (HMAC-SHA256, its object name on the target), in the same pass.
 */
export async function hashFile(file: string, chunkSize: number, dedupKey?: Buffer): Promise<{ size: number; sha256: string; chunks: PlannedChunk[] }> {
  const whole = createHash('sha256');
  const chunks: PlannedChunk[] = [];
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    let offset = 0;
    for (;;) {
      const n = await readFull(fh, buf, offset);
      if (n === 0) break;
      const part = buf.subarray(0, n);
      whole.update(part);
      chunks.push({ sha256: createHash('sha256').update(part).digest('hex'), ...(dedupKey ? { id: chunkId(dedupKey, part) } : {}), size: n, offset });
      offset += n;
      if (n < chunkSize) break;
    }
    return { size: offset, sha256: whole.digest('hex'), chunks };
  } finally {
    await fh.close();
  }
}

/** A chunk's keyed id: HMAC-SHA256 of its plaintext under the installation's dedup key. */
export const chunkId = (dedupKey: Buffer, plaintext: Buffer): string => createHmac('sha256', dedupKey).update(plaintext).digest('hex');

/** Read one chunk of a staged file. */
export async function readChunk(file: string, offset: number, size: number): Promise<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(size);
    const n = await readFull(fh, buf, offset);
    if (n !== size) throw new Error(`${file}: short read at ${offset} (${n} of ${size} bytes): changed while staged?`);
    return buf;
  } finally {
    await fh.close();
  }
}

async function readFull(fh: fs.promises.FileHandle, buf: Buffer, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
