/**
 * Reading SQLite's write-ahead log (https://www.sqlite.org/fileformat2.html#walformat) from the
 * outside, the way SQLite's own recovery does: a 32-byte header, then frames of a 24-byte header and
 * one page. A frame is valid only if its salts equal the header's and its cumulative checksum (over
 * the WAL header, every earlier frame and itself) matches; a transaction is committed once its commit
 * frame (non-zero "db size after commit") is valid. Readers stop at the first invalid frame: what
 * follows is a torn write, an uncommitted transaction or a stale frame of an earlier WAL epoch.
 *
 * Only the `-wal` file is opened here, never the database file: closing a descriptor of the
 * database would drop every POSIX lock this process's SQLite connections hold on it
 * (https://www.sqlite.org/howtocorrupt.html §2.2). SQLite takes no POSIX locks on the `-wal` file.
 */
import fs from 'node:fs';

export const WAL_HEADER_BYTES = 32;
export const FRAME_HEADER_BYTES = 24;
const MAGIC_LE = 0x377f0682;
const MAGIC_BE = 0x377f0683;
const WAL_FORMAT_VERSION = 3007000;

export type Checksum = readonly [number, number];

export interface WalHeader {
  /** The 32 bytes as stored (kept so a restore can re-verify the checksum chain). */
  raw: Buffer;
  /** Checksums computed over big-endian words (magic ...683) or little-endian ones (...682). */
  bigEndian: boolean;
  pageSize: number;
  checkpointSeq: number;
  salt1: number;
  salt2: number;
  checksum: Checksum;
}

/**
 * Where a reader stands in the WAL: after frame `frame` (always a commit frame, or 0) of the WAL
 * epoch whose header is `header`. `header` undefined: the WAL was empty, and whatever header
 * appears next starts new content.
 */
export interface WalPosition {
  header?: WalHeader;
  frame: number;
  checksum: Checksum;
}

/** One committed transaction: its frames exactly as stored, with their place in the chain. */
export interface WalTxn {
  header: WalHeader;
  /** 1-based index of its first frame and of its commit frame in this WAL epoch. */
  firstFrame: number;
  commitFrame: number;
  /** Database size in pages after the commit. */
  dbSize: number;
  checksumBefore: Checksum;
  checksumAfter: Checksum;
  /** commitFrame - firstFrame + 1 raw frames of 24 + pageSize bytes. */
  frames: Buffer;
}

/** SQLite's WAL checksum over `buf[start, end)` (a multiple of 8 bytes), continuing from `init`. */
export function walChecksum(buf: Buffer, start: number, end: number, init: Checksum, bigEndian: boolean): [number, number] {
  let s0 = init[0];
  let s1 = init[1];
  if (!bigEndian && (buf.byteOffset + start) % 4 === 0 && LITTLE_ENDIAN_HOST) {
    // Fast path: read aligned native words directly.
    const words = new Uint32Array(buf.buffer, buf.byteOffset + start, (end - start) / 4);
    for (let i = 0; i < words.length; i += 2) {
      s0 = (s0 + words[i]! + s1) >>> 0;
      s1 = (s1 + words[i + 1]! + s0) >>> 0;
    }
    return [s0, s1];
  }
  for (let i = start; i < end; i += 8) {
    const a = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
    const b = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
    s0 = (s0 + a + s1) >>> 0;
    s1 = (s1 + b + s0) >>> 0;
  }
  return [s0, s1];
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Parse and verify a WAL header; undefined if it is not a valid one (e.g. being rewritten). */
export function parseWalHeader(raw: Buffer): WalHeader | undefined {
  if (raw.length < WAL_HEADER_BYTES) return undefined;
  const magic = raw.readUInt32BE(0);
  if (magic !== MAGIC_LE && magic !== MAGIC_BE) return undefined;
  if (raw.readUInt32BE(4) !== WAL_FORMAT_VERSION) return undefined;
  const ps = raw.readUInt32BE(8);
  const pageSize = ps === 1 ? 65536 : ps;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  const bigEndian = magic === MAGIC_BE;
  const checksum = walChecksum(raw, 0, 24, [0, 0], bigEndian);
  if (checksum[0] !== raw.readUInt32BE(24) || checksum[1] !== raw.readUInt32BE(28)) return undefined;
  return {
    raw: Buffer.from(raw.subarray(0, WAL_HEADER_BYTES)),
    bigEndian,
    pageSize,
    checkpointSeq: raw.readUInt32BE(12),
    salt1: raw.readUInt32BE(16),
    salt2: raw.readUInt32BE(20),
    checksum,
  };
}

export const frameBytes = (pageSize: number) => FRAME_HEADER_BYTES + pageSize;
export const sameEpoch = (a: WalHeader, b: WalHeader) => a.salt1 === b.salt1 && a.salt2 === b.salt2 && a.pageSize === b.pageSize;

/**
 * Walk frames in `buf` (whole frames of `header`'s epoch, the first being frame `first`), verifying
 * salts and the checksum chain from `checksum`. Calls `onCommit` for each committed transaction and
 * returns where the valid chain (through the last commit) ends.
 */
export function walkFrames(
  header: WalHeader,
  buf: Buffer,
  first: number,
  checksum: Checksum,
  onCommit: (txn: WalTxn) => void,
): { frame: number; checksum: Checksum; consumedBytes: number; validFrames: number } {
  const fb = frameBytes(header.pageSize);
  let sum: Checksum = checksum;
  let txnStart = 0;
  let txnChecksum: Checksum = checksum;
  let committed = { frame: first - 1, checksum, consumedBytes: 0 };
  let n = 0;
  for (let off = 0; off + fb <= buf.length; off += fb, n++) {
    if (buf.readUInt32BE(off + 8) !== header.salt1 || buf.readUInt32BE(off + 12) !== header.salt2) break;
    let next = walChecksum(buf, off, off + 8, sum, header.bigEndian);
    next = walChecksum(buf, off + FRAME_HEADER_BYTES, off + fb, next, header.bigEndian);
    if (next[0] !== buf.readUInt32BE(off + 16) || next[1] !== buf.readUInt32BE(off + 20)) break;
    sum = next;
    const dbSize = buf.readUInt32BE(off + 4);
    if (dbSize !== 0) {
      const frame = first + n;
      onCommit({
        header,
        firstFrame: first + txnStart / fb,
        commitFrame: frame,
        dbSize,
        checksumBefore: txnChecksum,
        checksumAfter: sum,
        frames: buf.subarray(txnStart, off + fb),
      });
      txnStart = off + fb;
      txnChecksum = sum;
      committed = { frame, checksum: sum, consumedBytes: off + fb };
    }
  }
  return { ...committed, validFrames: n };
}

export type ScanResult =
  /** `more`: stopped at the byte budget with frames left to read. */
  | { kind: 'ok'; position: WalPosition; txns: WalTxn[]; more: boolean; reset: 'none' | 'restart' | 'truncate' }
  /** The WAL is not a continuation of `position` (README "Generations"). */
  | { kind: 'discontinuity'; reason: string }
  /** One uncommitted-so-far transaction is larger than the budget. */
  | { kind: 'oversized'; bytes: number };

/**
 * Read the transactions committed after `pos`, at most about `maxBytes` of frames. A WAL reset that
 * SQLite makes after a complete checkpoint (salt-1 incremented by one, frames restarting at 1, or a
 * file truncated to zero) is followed; `strict` (used on start-up, when nothing guaranteed the
 * reset was lossless) refuses any reset.
 */
export function scanWal(walFile: string, pos: WalPosition, opts: { maxBytes: number; strict?: boolean }): ScanResult {
  let fd: number;
  try {
    fd = fs.openSync(walFile, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!pos.header) return { kind: 'ok', position: pos, txns: [], more: false, reset: 'none' };
    return { kind: 'discontinuity', reason: 'the WAL file disappeared' };
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < WAL_HEADER_BYTES) {
      if (!pos.header) return { kind: 'ok', position: pos, txns: [], more: false, reset: 'none' };
      if (opts.strict) return { kind: 'discontinuity', reason: 'the WAL was truncated' };
      return { kind: 'ok', position: { frame: 0, checksum: [0, 0] }, txns: [], more: false, reset: 'truncate' };
    }
    const rawHeader = Buffer.alloc(WAL_HEADER_BYTES);
    fs.readSync(fd, rawHeader, 0, WAL_HEADER_BYTES, 0);
    const header = parseWalHeader(rawHeader);
    // A header that does not verify is being rewritten right now: try again on the next scan.
    if (!header) return { kind: 'ok', position: pos, txns: [], more: false, reset: 'none' };

    let start: WalPosition = pos;
    let reset: 'none' | 'restart' | 'truncate' = 'none';
    if (!pos.header) {
      start = { header, frame: 0, checksum: header.checksum };
    } else if (!sameEpoch(pos.header, header)) {
      const restarted = header.salt1 === ((pos.header.salt1 + 1) >>> 0) && header.pageSize === pos.header.pageSize;
      if (!restarted || opts.strict) {
        return { kind: 'discontinuity', reason: `the WAL was reset (salts ${pos.header.salt1}/${pos.header.salt2} → ${header.salt1}/${header.salt2}) past frames not yet read` };
      }
      start = { header, frame: 0, checksum: header.checksum };
      reset = 'restart';
    }
    const h = start.header!;
    const fb = frameBytes(h.pageSize);
    const offset = WAL_HEADER_BYTES + start.frame * fb;
    const available = Math.floor(Math.max(0, size - offset) / fb) * fb;
    const want = Math.min(available, Math.max(fb, Math.floor(opts.maxBytes / fb) * fb));
    if (want === 0) return { kind: 'ok', position: start, txns: [], more: false, reset };
    const buf = Buffer.allocUnsafe(want);
    const whole = Math.floor(fs.readSync(fd, buf, 0, want, offset) / fb) * fb;
    const txns: WalTxn[] = [];
    // Copy each transaction out so the (possibly large) read buffer is not retained.
    const walked = walkFrames(h, buf.subarray(0, whole), start.frame + 1, start.checksum, (t) => txns.push({ ...t, frames: Buffer.from(t.frames) }));
    // The budget ended while the chain was still valid: more to read next time.
    const more = walked.validFrames * fb === whole && whole < available;
    if (more && txns.length === 0) return { kind: 'oversized', bytes: whole };
    return { kind: 'ok', position: { header: h, frame: walked.frame, checksum: walked.checksum }, txns, more, reset };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * On start-up: is frame `pos.frame` of the current WAL still the one we last consumed (same epoch,
 * same cumulative checksum)? Then nothing before it was lost and reading can continue after it.
 */
export function verifyPosition(walFile: string, pos: WalPosition): { ok: true } | { ok: false; reason: string } {
  if (!pos.header) {
    const size = fs.existsSync(walFile) ? fs.statSync(walFile).size : 0;
    return size < WAL_HEADER_BYTES ? { ok: true } : { ok: false, reason: 'a WAL appeared while the shipper was stopped' };
  }
  let fd: number;
  try {
    fd = fs.openSync(walFile, 'r');
  } catch {
    return { ok: false, reason: 'the WAL file is gone (checkpointed and deleted while the shipper was stopped)' };
  }
  try {
    const raw = Buffer.alloc(WAL_HEADER_BYTES);
    if (fs.readSync(fd, raw, 0, WAL_HEADER_BYTES, 0) < WAL_HEADER_BYTES) return { ok: false, reason: 'the WAL was truncated while the shipper was stopped' };
    const header = parseWalHeader(raw);
    if (!header || !sameEpoch(header, pos.header)) return { ok: false, reason: 'the WAL was reset while the shipper was stopped' };
    if (pos.frame === 0) return header.checksum[0] === pos.checksum[0] && header.checksum[1] === pos.checksum[1] ? { ok: true } : { ok: false, reason: 'WAL header checksum differs' };
    const fh = Buffer.alloc(FRAME_HEADER_BYTES);
    const off = WAL_HEADER_BYTES + (pos.frame - 1) * frameBytes(header.pageSize);
    if (fs.readSync(fd, fh, 0, FRAME_HEADER_BYTES, off) < FRAME_HEADER_BYTES) return { ok: false, reason: 'the WAL is shorter than the last shipped frame' };
    const same = fh.readUInt32BE(8) === header.salt1 && fh.readUInt32BE(12) === header.salt2 && fh.readUInt32BE(16) === pos.checksum[0] && fh.readUInt32BE(20) === pos.checksum[1];
    return same ? { ok: true } : { ok: false, reason: 'the last shipped frame was overwritten' };
  } finally {
    fs.closeSync(fd);
  }
}

/** JSON form of a position (state file, generation metadata). */
export interface WalPositionJson {
  header: string | null;
  frame: number;
  checksum: [number, number];
}

export function positionToJson(p: WalPosition): WalPositionJson {
  return { header: p.header ? p.header.raw.toString('base64') : null, frame: p.frame, checksum: [p.checksum[0], p.checksum[1]] };
}

export function positionFromJson(j: WalPositionJson): WalPosition {
  if (j.header === null) return { frame: j.frame, checksum: j.checksum };
  const header = parseWalHeader(Buffer.from(j.header, 'base64'));
  if (!header) throw new Error('stored WAL header does not verify');
  return { header, frame: j.frame, checksum: j.checksum };
}
