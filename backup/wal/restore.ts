/**
 * Point-in-time restore from continuous-mode objects: decrypt the generation's base into a temp
 * file, replay the pages of every transaction stamped at or before `at` (each frame's page written
 * at (pgno-1)·pageSize, the file cut to the commit frame's database size), verify with
 * `PRAGMA integrity_check`, then rename over `outFile`. Every segment is checked before any of its
 * pages is written: its SHA-256 (named in its key), age authentication, its own SHA-256 trailer,
 * the WAL checksum chain, and that it continues exactly where the previous one ended.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import BetterSqlite3 from 'better-sqlite3';
import { fsyncDir } from '../../services/shared/atomic-file.js';
import type { Logger } from '../../services/shared/logger.js';
import type { DecryptionSpec, Target } from '../contracts.js';
import { createDecryptStream, decryptBuffer, isAgeError } from '../crypto/index.js';
import { planRestore, type RestorePlan, type WalGap, type WalShortfall } from './catalog.js';
import { isWalError, WalError } from './errors.js';
import { decodeSegment, positionRef, unpackSegment, samePositionRef, segmentEnd, type PositionRef } from './segment.js';
import { FRAME_HEADER_BYTES, positionFromJson } from './wal-file.js';

export interface RestoreAtOptions {
  target: Target;
  /** X25519 identities (`AGE-SECRET-KEY-1...`) and/or the passphrase the backups were encrypted to. */
  identities?: string[];
  passphrase?: string;
  /** The point to restore (ms since epoch): every transaction stamped at or before it. */
  at: number;
  outFile: string;
  /** Replace an existing `outFile` (and remove its stale -wal/-shm). Default false. */
  overwrite?: boolean;
  /**
   * Accept a shortfall: for a time inside a gap, past a missing segment or past a damaged one,
   * restore the last point the chain reaches (`result.shortfall` says which and why) instead of
   * failing. Without it such a restore replays what it can and then fails naming the gap and the
   * time reached; nothing is written to `outFile`.
   */
  allowGap?: boolean;
  log?: Logger;
  onProgress?: (p: { phase: 'base' | 'segments' | 'check'; done: number; total: number }) => void;
}

export interface WalRestoreResult {
  outFile: string;
  generation: string;
  requestedAt: number;
  /** The exact point restored: the time of the last transaction applied (or the base's). */
  restoredTo: number;
  baseAt: number;
  segments: number;
  transactions: number;
  bytes: number;
  window: { from: number; to: number };
  gap?: WalGap;
  /** Set when `allowGap` accepted a restore short of `requestedAt` (reachedAt = restoredTo). */
  shortfall?: WalShortfall;
}

export async function restoreAt(opts: RestoreAtOptions): Promise<WalRestoreResult> {
  const plan = await planRestore(opts.target, opts.at, { allowGap: opts.allowGap ?? false });
  // A hole found by planning is not refused yet: the intact segments are replayed first, so the
  // error (or, with allowGap, the result) states the exact point the chain reaches.
  const out = path.resolve(opts.outFile);
  if (!opts.overwrite && fs.existsSync(out)) throw new WalError('exists', `${out} already exists`, { exitCode: 2 });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.pitr-${randomBytes(4).toString('hex')}`;
  const spec: DecryptionSpec = { identities: opts.identities ?? [], ...(opts.passphrase === undefined ? {} : { passphrase: opts.passphrase }) };
  try {
    const applied = await rebuild(plan, spec, tmp, opts);
    opts.onProgress?.({ phase: 'check', done: 0, total: 1 });
    integrityCheck(tmp);
    const shortfall = applied.shortfall;
    if (shortfall && !opts.allowGap) throw shortfallError(shortfall);
    if (opts.overwrite) for (const s of ['-wal', '-shm', '-journal']) fs.rmSync(out + s, { force: true });
    fs.renameSync(tmp, out);
    fsyncDir(path.dirname(out));
    const result: WalRestoreResult = {
      outFile: out,
      generation: plan.generation.generation,
      requestedAt: opts.at,
      restoredTo: applied.restoredTo,
      baseAt: plan.generation.baseAt,
      segments: applied.segments,
      transactions: applied.transactions,
      bytes: fs.statSync(out).size,
      window: plan.window,
      ...(plan.gap ? { gap: plan.gap } : {}),
      ...(shortfall ? { shortfall } : {}),
    };
    if (shortfall) opts.log?.warn({ shortfall }, 'point-in-time restore accepted short of the requested time');
    opts.log?.info({ ...result }, 'point-in-time restore finished');
    return result;
  } finally {
    for (const s of ['', '-wal', '-shm', '-journal']) fs.rmSync(tmp + s, { force: true });
  }
}

interface Applied {
  restoredTo: number;
  segments: number;
  transactions: number;
  /** The plan's shortfall with the exact point reached, or a damaged segment's (found on the way). */
  shortfall?: WalShortfall;
}

/**
 * Base, then each planned segment in order, each checked whole before any of its pages is
 * written. A damaged segment ends the replay there (a shortfall of kind corrupt-segment: what was
 * applied is a state the database had); a wrong key never does (it is not a property of the chain).
 */
async function rebuild(plan: RestorePlan, spec: DecryptionSpec, tmp: string, opts: RestoreAtOptions): Promise<Applied> {
  const { meta } = plan.generation;
  const total = plan.segments.length;
  opts.onProgress?.({ phase: 'base', done: 0, total: 1 });
  await downloadBase(opts.target, meta.base, spec, tmp);
  let expected: PositionRef | null = positionRef(positionFromJson(meta.start));
  let restoredTo = plan.generation.baseAt;
  let transactions = 0;
  let segments = 0;
  let lastIndex = 0;
  let lastUntil = plan.generation.baseAt;
  const done = (damaged?: { seg: RestorePlan['segments'][number]; err: WalError }): Applied => {
    const walEnd = expected ? { salt1: expected.salt1, salt2: expected.salt2, frame: expected.frame } : undefined;
    const lastIntact = lastIndex > 0 ? { index: lastIndex, committedUntil: lastUntil, ...(walEnd ? { walEnd } : {}) } : undefined;
    if (damaged) {
      const shortfall: WalShortfall = {
        kind: 'corrupt-segment',
        generation: plan.generation.generation,
        requestedAt: plan.requestedAt,
        reachedAt: restoredTo,
        missing: { from: damaged.seg.index, to: damaged.seg.index },
        ...(lastIntact ? { lastIntact } : {}),
        lostFrom: restoredTo,
        lostUntil: null,
        reason: damaged.err.message,
      };
      return { restoredTo, segments, transactions, shortfall };
    }
    const s = plan.shortfall;
    return { restoredTo, segments, transactions, ...(s ? { shortfall: { ...s, reachedAt: restoredTo, ...(lastIntact ? { lastIntact } : {}) } } : {}) };
  };
  const fd = fs.openSync(tmp, 'r+');
  try {
    const basePageSize = pageSizeOf(fd);
    for (const seg of plan.segments) {
      opts.onProgress?.({ phase: 'segments', done: segments, total });
      let d: Awaited<ReturnType<typeof decodeSegment>>;
      try {
        d = await checkedSegment(opts.target, seg, spec, expected, basePageSize);
      } catch (err) {
        if (isWalError(err, 'corrupt-segment')) return done({ seg, err });
        throw err;
      }
      expected = segmentEnd(d.header, d.walHeader);
      segments++;
      lastIndex = seg.index;
      lastUntil = seg.committedUntil;
      const ps = d.header.pageSize;
      const fb = FRAME_HEADER_BYTES + ps;
      for (const txn of d.txns) {
        if (txn.at > plan.requestedAt) return done();
        for (let off = 0; off < txn.frames.length; off += fb) {
          const pgno = txn.frames.readUInt32BE(off);
          fs.writeSync(fd, txn.frames, off + FRAME_HEADER_BYTES, ps, (pgno - 1) * ps);
        }
        fs.ftruncateSync(fd, txn.dbSize * ps);
        restoredTo = txn.at;
        transactions++;
      }
    }
    return done();
  } finally {
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
}

/** Download one segment and check everything about it (throws corrupt-segment or wrong-key). */
async function checkedSegment(target: Target, seg: RestorePlan['segments'][number], spec: DecryptionSpec, expected: PositionRef | null, basePageSize: number | undefined) {
  let cipher: Buffer;
  try {
    cipher = await readAll(await target.get(seg.key));
  } catch (err) {
    // Listed a moment ago, gone now (a prune, a failing disk): the chain has a hole here.
    throw corrupt(seg.key, `it cannot be read (${(err as Error).message})`, err);
  }
  if (createHash('sha256').update(cipher).digest('hex') !== seg.sha256) throw corrupt(seg.key, 'its SHA-256 differs from the one in its key');
  let plain: Buffer;
  try {
    plain = await decryptBuffer(spec, cipher);
  } catch (err) {
    if (isAgeError(err, 'wrong-key')) throw new WalError('wrong-key', `cannot decrypt ${seg.key}: ${(err as Error).message}`, { cause: err, exitCode: 2 });
    throw corrupt(seg.key, (err as Error).message, err);
  }
  let d: Awaited<ReturnType<typeof decodeSegment>>;
  try {
    d = decodeSegment(await unpackSegment(plain, seg.key), seg.key);
  } catch (err) {
    if (err instanceof WalError) throw err;
    throw corrupt(seg.key, (err as Error).message, err);
  }
  if (d.header.generation !== seg.generation || d.header.index !== seg.index) throw corrupt(seg.key, 'it names another generation or index than its key');
  if (!samePositionRef(d.header.continues, expected)) throw corrupt(seg.key, 'it does not continue where the previous segment (or the base) ended');
  if (basePageSize !== undefined && d.header.pageSize !== basePageSize) throw corrupt(seg.key, `page size ${d.header.pageSize} differs from the base's ${basePageSize}`);
  return d;
}

/**
 * The error of a restore that cannot reach its time: names the gap (which segments, which WAL
 * position, which span of commits is lost) and the exact point reached. Code: the shortfall's kind.
 */
export function shortfallError(s: WalShortfall): WalError {
  const iso = (t: number) => new Date(t).toISOString();
  const where =
    s.kind === 'in-gap'
      ? `${iso(s.requestedAt)} falls in a gap of the WAL backups between generation ${s.generation} and ${s.resumesWith ?? 'the next'}: ${s.reason}`
      : `generation ${s.generation} ${s.kind === 'corrupt-segment' ? 'has a damaged segment' : 'lacks segment'} ${s.missing ? (s.missing.to === s.missing.from ? s.missing.from : `${s.missing.from}-${s.missing.to ?? '?'}`) : '?'}` +
        `${s.lastIntact?.walEnd ? ` (the WAL after frame ${s.lastIntact.walEnd.frame} of salts ${s.lastIntact.walEnd.salt1}/${s.lastIntact.walEnd.salt2}, where segment ${s.lastIntact.index} ends)` : s.lastIntact ? ` (after segment ${s.lastIntact.index})` : ' (right after the base)'}: ${s.reason}`;
  const lost = `changes committed from ${iso(s.lostFrom)} ${s.lostUntil === null ? 'on' : `until ${iso(s.lostUntil)}`} are not in the backup`;
  const message = `${where}. Replayed every intact segment up to it: reached ${iso(s.reachedAt)}, short of the requested ${iso(s.requestedAt)}; ${lost}. Nothing was restored: pass --accept-gap to restore exactly to ${iso(s.reachedAt)}`;
  return new WalError(s.kind, message, { exitCode: s.kind === 'in-gap' ? 2 : 1, details: { shortfall: s } });
}

async function downloadBase(target: Target, base: RestorePlan['generation']['meta']['base'], spec: DecryptionSpec, tmp: string): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(await target.get(base.key), createDecryptStream(spec, { plaintextSize: base.plainSize }), tap, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    if (isAgeError(err, 'wrong-key')) throw new WalError('wrong-key', `cannot decrypt ${base.key}: ${(err as Error).message}`, { cause: err, exitCode: 2 });
    if (isAgeError(err)) throw new WalError('corrupt-base', `base ${base.key} is damaged: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  if (bytes !== base.plainSize || hash.digest('hex') !== base.plainSha256) throw new WalError('corrupt-base', `base ${base.key} does not match its recorded size and SHA-256`);
}

/** Page size from the SQLite header (bytes 16-17; 1 means 65536); undefined for an empty file. */
function pageSizeOf(fd: number): number | undefined {
  const h = Buffer.alloc(100);
  if (fs.readSync(fd, h, 0, 100, 0) < 100) return undefined;
  const v = h.readUInt16BE(16);
  return v === 1 ? 65536 : v;
}

function integrityCheck(file: string): void {
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(file, { fileMustExist: true });
  } catch (err) {
    throw new WalError('integrity', `the restored database cannot be opened: ${(err as Error).message}`, { cause: err });
  }
  try {
    let rows: { integrity_check: string }[];
    try {
      rows = db.pragma('integrity_check') as { integrity_check: string }[];
    } catch (err) {
      throw new WalError('integrity', `the restored database fails integrity_check: ${(err as Error).message}`, { cause: err });
    }
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    if (problems.length > 0 || rows.length === 0) throw new WalError('integrity', `the restored database fails integrity_check: ${problems.slice(0, 5).join('; ')}`);
  } finally {
    db.close();
  }
}

const corrupt = (key: string, why: string, cause?: unknown) =>
  new WalError('corrupt-segment', `segment ${key} is damaged: ${why}`, cause === undefined ? undefined : { cause });

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
