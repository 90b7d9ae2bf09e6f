/**
 * What continuous mode stores on a target, under `wal/<generation>/`:
 *   generation.json                      plaintext metadata, written last (a generation without it
 *                                         is incomplete and ignored)
 *   base.db.age                          the page-exact base copy of the database file
 *   <index>-<firstAt>-<lastAt>-<sha256>.seg.age
 *                                         one segment: whole transactions of one WAL epoch. The key
 *                                         carries what planning needs without a secret: index
 *                                         (10 digits, from 1), detection times of its first and
 *                                         last commit (ms), SHA-256 of the stored (encrypted) bytes
 *
 * Segment plaintext: "TSWALSEG", u32 header length, header JSON, the raw WAL frames (24-byte frame
 * header + page, exactly as in the WAL so the checksum chain can be re-verified), SHA-256 of all the
 * preceding bytes. Stored gzip-compressed (pages of real tables compress well), then age-encrypted:
 * `age -d seg.age | gunzip` gives the plaintext with standard tools.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { WalError } from './errors.js';
import { frameBytes, parseWalHeader, walkFrames, type Checksum, type WalHeader, type WalPosition, type WalPositionJson, type WalTxn } from './wal-file.js';

export const WAL_PREFIX = 'wal/';
const SEGMENT_MAGIC = Buffer.from('TSWALSEG');

/** A committed transaction with the time the shipper saw it committed (the PITR timestamp). */
export interface StampedTxn extends WalTxn {
  at: number;
  /** When the scan that found it started reading (bench: commits before this are included). */
  scanStartedAt: number;
}

export interface SegmentHeader {
  format: 'tapstack-wal-segment/1';
  generation: string;
  index: number;
  /** The WAL position this segment continues from (the previous segment's end, or the base's). */
  continues: PositionRef | null;
  walHeader: string;
  pageSize: number;
  firstFrame: number;
  lastFrame: number;
  checksumBefore: [number, number];
  checksumAfter: [number, number];
  txns: { commitFrame: number; dbSize: number; at: number }[];
}

/** A WAL position in a form that compares cheaply: epoch salts, frame, cumulative checksum. */
export interface PositionRef {
  salt1: number;
  salt2: number;
  frame: number;
  checksum: [number, number];
}

export function positionRef(p: WalPosition): PositionRef | null {
  return p.header ? { salt1: p.header.salt1, salt2: p.header.salt2, frame: p.frame, checksum: [p.checksum[0], p.checksum[1]] } : null;
}

export function samePositionRef(a: PositionRef | null, b: PositionRef | null): boolean {
  if (a === null || b === null) return a === b;
  return a.salt1 === b.salt1 && a.salt2 === b.salt2 && a.frame === b.frame && sameChecksum(a.checksum, b.checksum);
}

export interface GenerationMeta {
  format: 'tapstack-wal-generation/1';
  generation: string;
  createdAt: string;
  /** The base holds every transaction stamped at or before this time, and none after. */
  baseAt: number;
  /** Why this generation started: first-start | rollover | a discontinuity reason. */
  reason: string;
  /** The generation this one follows; `contiguous`: no transaction was lost in between. */
  previous: { generation: string; index: number; committedUntil: number; contiguous: boolean } | null;
  pageSize: number;
  base: { key: string; size: number; sha256: string; plainSize: number; plainSha256: string };
  /** The WAL position the base corresponds to: the first segment continues from here. */
  start: WalPositionJson;
  encryption: { recipients: string[]; passphrase: boolean };
  sqliteVersion: string;
}

export interface SegmentKeyInfo {
  generation: string;
  index: number;
  firstCommitAt: number;
  committedUntil: number;
  sha256: string;
}

/** Sortable, unique generation ids: UTC time to the millisecond plus randomness. */
export function newGenerationId(at: number): string {
  const iso = new Date(at).toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${iso}-${randomBytes(3).toString('hex')}`;
}

export const GENERATION_RE = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

/** The time encoded in a generation id (ms), or NaN. */
export function generationTime(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : Number.NaN;
}
export const generationPrefix = (g: string) => `${WAL_PREFIX}${g}/`;
export const generationMetaKey = (g: string) => `${generationPrefix(g)}generation.json`;
export const baseKey = (g: string) => `${generationPrefix(g)}base.db.age`;
export const confirmedKey = (g: string) => `${generationPrefix(g)}confirmed.json`;

/**
 * `confirmed.json` (plaintext, overwritten): segments 1..index hold every transaction committed
 * before `confirmedUntil` — the shipper read the WAL then and found nothing more. It stretches the
 * generation's restorable span past its last commit (idle periods, a clean stop).
 */
export interface ConfirmedMeta {
  format: 'tapstack-wal-confirmed/1';
  generation: string;
  index: number;
  confirmedUntil: number;
}

export function segmentKey(i: SegmentKeyInfo): string {
  return `${generationPrefix(i.generation)}${String(i.index).padStart(10, '0')}-${i.firstCommitAt}-${i.committedUntil}-${i.sha256}.seg.age`;
}

const SEGMENT_KEY_RE = /^wal\/([^/]+)\/(\d{10})-(\d+)-(\d+)-([0-9a-f]{64})\.seg\.age$/;

export function parseSegmentKey(key: string): SegmentKeyInfo | undefined {
  const m = SEGMENT_KEY_RE.exec(key);
  if (!m) return undefined;
  return { generation: m[1]!, index: Number(m[2]), firstCommitAt: Number(m[3]), committedUntil: Number(m[4]), sha256: m[5]! };
}

/** Encode consecutive transactions of one WAL epoch as a segment's plaintext. */
export function encodeSegment(generation: string, index: number, continues: WalPosition, txns: StampedTxn[]): Buffer {
  const first = txns[0];
  const last = txns[txns.length - 1];
  if (!first || !last) throw new Error('a segment needs at least one transaction');
  const header: SegmentHeader = {
    format: 'tapstack-wal-segment/1',
    generation,
    index,
    continues: positionRef(continues),
    walHeader: first.header.raw.toString('base64'),
    pageSize: first.header.pageSize,
    firstFrame: first.firstFrame,
    lastFrame: last.commitFrame,
    checksumBefore: [first.checksumBefore[0], first.checksumBefore[1]],
    checksumAfter: [last.checksumAfter[0], last.checksumAfter[1]],
    txns: txns.map((t) => ({ commitFrame: t.commitFrame, dbSize: t.dbSize, at: t.at })),
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  const body = Buffer.concat([SEGMENT_MAGIC, len, json, ...txns.map((t) => t.frames)]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

/** Compress a segment's plaintext for storage (level 1: cheap, most of the gain on page data). */
export const packSegment = (plain: Buffer): Promise<Buffer> => gzip(plain, { level: 1 });

/** The plaintext of a stored (decrypted) segment; `label` names it in errors. */
export async function unpackSegment(packed: Buffer, label: string): Promise<Buffer> {
  try {
    return await gunzip(packed);
  } catch (err) {
    throw new WalError('corrupt-segment', `segment ${label} is damaged: ${(err as Error).message}`, { cause: err });
  }
}

export interface DecodedTxn {
  at: number;
  dbSize: number;
  /** Raw frames of the transaction (24-byte header + page each). */
  frames: Buffer;
}

export interface DecodedSegment {
  header: SegmentHeader;
  walHeader: WalHeader;
  txns: DecodedTxn[];
}

/**
 * Parse a segment's plaintext and verify everything it can on its own: SHA-256, the WAL header,
 * and the checksum chain of every frame from `checksumBefore` to `checksumAfter`, with commit frames
 * exactly where the header says. `label` names the object in errors.
 */
export function decodeSegment(plain: Buffer, label: string): DecodedSegment {
  const bad = (why: string) => new WalError('corrupt-segment', `segment ${label} is damaged: ${why}`);
  if (plain.length < SEGMENT_MAGIC.length + 4 + 32 || !plain.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC)) throw bad('not a tapstack WAL segment');
  const body = plain.subarray(0, plain.length - 32);
  if (!createHash('sha256').update(body).digest().equals(plain.subarray(plain.length - 32))) throw bad('SHA-256 mismatch');
  const jsonLen = body.readUInt32BE(SEGMENT_MAGIC.length);
  const jsonEnd = SEGMENT_MAGIC.length + 4 + jsonLen;
  if (jsonEnd > body.length) throw bad('header length out of range');
  let header: SegmentHeader;
  try {
    header = JSON.parse(body.subarray(SEGMENT_MAGIC.length + 4, jsonEnd).toString('utf8')) as SegmentHeader;
  } catch {
    throw bad('header is not JSON');
  }
  if (header.format !== 'tapstack-wal-segment/1') throw bad(`unknown format ${String(header.format)}`);
  const walHeader = parseWalHeader(Buffer.from(header.walHeader, 'base64'));
  if (!walHeader || walHeader.pageSize !== header.pageSize) throw bad('WAL header does not verify');
  const frames = body.subarray(jsonEnd);
  const fb = frameBytes(header.pageSize);
  const count = header.lastFrame - header.firstFrame + 1;
  if (count < 1 || frames.length !== count * fb) throw bad(`expected ${count} frames, found ${frames.length / fb}`);
  const txns: DecodedTxn[] = [];
  const expected = header.txns;
  let start = 0;
  const walked = walkFrames(walHeader, frames, header.firstFrame, header.checksumBefore, (t) => {
    const want = expected[txns.length];
    if (!want || want.commitFrame !== t.commitFrame || want.dbSize !== t.dbSize) throw bad(`unexpected commit at frame ${t.commitFrame}`);
    txns.push({ at: want.at, dbSize: t.dbSize, frames: frames.subarray(start, start + t.frames.length) });
    start += t.frames.length;
  });
  if (walked.validFrames !== count || walked.frame !== header.lastFrame || txns.length !== expected.length) throw bad('WAL checksum chain broken');
  if (!sameChecksum(walked.checksum, header.checksumAfter)) throw bad('final checksum mismatch');
  // Where it starts must follow from where it says it continues: the next frame of the same WAL
  // epoch, or frame 1 of a new epoch (a reset the shipper saw happen after a complete checkpoint).
  const c = header.continues;
  const sameWal = c !== null && c.salt1 === walHeader.salt1 && c.salt2 === walHeader.salt2;
  const follows = sameWal ? header.firstFrame === c.frame + 1 && sameChecksum(header.checksumBefore, c.checksum) : header.firstFrame === 1 && sameChecksum(header.checksumBefore, walHeader.checksum);
  if (!follows) throw bad('does not continue the WAL position it names');
  return { header, walHeader, txns };
}

export const sameChecksum = (a: Checksum, b: Checksum) => a[0] === b[0] && a[1] === b[1];

/** Where a decoded segment ends. */
export function segmentEnd(h: SegmentHeader, wal: WalHeader): PositionRef {
  return { salt1: wal.salt1, salt2: wal.salt2, frame: h.lastFrame, checksum: h.checksumAfter };
}
