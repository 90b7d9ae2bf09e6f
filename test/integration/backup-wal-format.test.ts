/**
 * Reading real SQLite WAL files from the outside (backup/wal/wal-file.ts) and the segment format:
 * the checksum chain, commit boundaries, torn tails, WAL restarts, and that replaying the frames on
 * a copy of the checkpointed database file gives exactly (byte for byte) what SQLite's own
 * checkpoint gives.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { isWalError } from '../../backup/wal/errors.js';
import { decodeSegment, encodeSegment, type StampedTxn } from '../../backup/wal/segment.js';
import { FRAME_HEADER_BYTES, scanWal, type WalPosition } from '../../backup/wal/wal-file.js';
import { tempDir } from '../helpers/env.js';

const EMPTY: WalPosition = { frame: 0, checksum: [0, 0] };

function freshWalDb(t: { teardown(fn: () => void): void }) {
  const dir = tempDir('tapstack-walfmt-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'f.db');
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)');
  return { dir, file, db, insert: (n: number, size: number) => { for (let i = 0; i < n; i++) db.prepare('INSERT INTO rows (body) VALUES (?)').run(Buffer.alloc(size, i)); } };
}

const scanAll = (file: string, pos: WalPosition = EMPTY, strict = false) => {
  const r = scanWal(`${file}-wal`, pos, { maxBytes: 1 << 30, strict });
  if (r.kind !== 'ok') throw new Error(`scan: ${JSON.stringify(r)}`);
  return r;
};

test('every committed transaction is found, with verified checksums, in order', (t) => {
  const { file, db, insert } = freshWalDb(t);
  insert(25, 5000); // overflow pages: several frames per transaction
  const r = scanAll(file);
  t.is(r.txns.length, 1 + 25); // CREATE TABLE + inserts
  t.is(r.txns[0]!.firstFrame, 1);
  for (let i = 1; i < r.txns.length; i++) t.is(r.txns[i]!.firstFrame, r.txns[i - 1]!.commitFrame + 1);
  const last = r.txns[r.txns.length - 1]!;
  t.is(last.dbSize, db.pragma('page_count', { simple: true }) as number);
  t.is(r.position.frame, last.commitFrame);
  t.is(fs.statSync(`${file}-wal`).size, 32 + last.commitFrame * (FRAME_HEADER_BYTES + 4096));
  // Continuing from the position finds only what is new.
  insert(3, 100);
  t.is(scanAll(file, r.position).txns.length, 3);
});

test('a torn or damaged tail ends the valid chain at the last complete commit', (t) => {
  const { file, insert } = freshWalDb(t);
  insert(5, 100);
  const before = scanAll(file);
  insert(1, 100);
  const wal = `${file}-wal`;
  const size = fs.statSync(wal).size;
  fs.truncateSync(wal, size - 100); // the last frame is cut short
  t.is(scanAll(file).position.frame, before.position.frame);
  const bytes = fs.readFileSync(wal);
  bytes[32 + 24 + 10]! ^= 0xff; // a bit flip in frame 1's page
  fs.writeFileSync(wal, bytes);
  t.is(scanAll(file).txns.length, 0);
});

test('a WAL restart after a complete checkpoint is followed; strict mode refuses it', (t) => {
  const { file, db, insert } = freshWalDb(t);
  insert(5, 100);
  const r1 = scanAll(file);
  t.like(db.pragma('wal_checkpoint(PASSIVE)'), [{ busy: 0 }]);
  insert(2, 100); // this writer restarts the WAL: salt-1 + 1, frames from 1
  const r2 = scanAll(file, r1.position);
  t.is(r2.reset, 'restart');
  t.is(r2.txns.length, 2);
  t.is(r2.txns[0]!.firstFrame, 1);
  const strict = scanWal(`${file}-wal`, r1.position, { maxBytes: 1 << 30, strict: true });
  t.is(strict.kind, 'discontinuity');
});

test('a reset the shipper cannot vouch for (new random salts) is a discontinuity', (t) => {
  const { file, db, insert } = freshWalDb(t);
  insert(5, 100);
  const r1 = scanAll(file);
  // Another connection truncates; our writer never restarted a WAL itself, so it picks new salts.
  const other = new BetterSqlite3(file);
  other.pragma('wal_checkpoint(TRUNCATE)');
  other.close();
  insert(1, 100);
  const r2 = scanWal(`${file}-wal`, r1.position, { maxBytes: 1 << 30 });
  t.is(r2.kind, 'discontinuity');
  db.close();
});

test('replaying frames on the checkpointed file gives byte-for-byte what a checkpoint gives', (t) => {
  const { dir, file, db, insert } = freshWalDb(t);
  insert(40, 3000);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const base = path.join(dir, 'base.db');
  fs.copyFileSync(file, base);
  insert(60, 3500);
  db.exec('DELETE FROM rows WHERE id % 3 = 0'); // frees pages
  db.exec('VACUUM'); // shrinks the file: the commit frame's db size truncates the copy
  insert(10, 200);
  const { txns } = scanAll(file);
  const fd = fs.openSync(base, 'r+');
  for (const txn of txns) {
    const fb = FRAME_HEADER_BYTES + txn.header.pageSize;
    for (let off = 0; off < txn.frames.length; off += fb) fs.writeSync(fd, txn.frames, off + FRAME_HEADER_BYTES, txn.header.pageSize, (txn.frames.readUInt32BE(off) - 1) * txn.header.pageSize);
    fs.ftruncateSync(fd, txn.dbSize * txn.header.pageSize);
  }
  fs.closeSync(fd);
  db.pragma('wal_checkpoint(TRUNCATE)');
  t.true(fs.readFileSync(base).equals(fs.readFileSync(file)), 'identical files');
});

test('segments verify their SHA-256, checksum chain and commit layout', (t) => {
  const { file, insert } = freshWalDb(t);
  insert(4, 2000);
  const { txns } = scanAll(file);
  const stamped: StampedTxn[] = txns.map((x, i) => ({ ...x, at: 1000 + i, scanStartedAt: 1000 }));
  const plain = encodeSegment('g', 1, EMPTY, stamped);
  const d = decodeSegment(plain, 'k');
  t.is(d.txns.length, stamped.length);
  t.deepEqual(d.txns.map((x) => x.at), stamped.map((x) => x.at));

  const flipped = Buffer.from(plain);
  flipped[flipped.length - 100]! ^= 1;
  t.true(isWalError(t.throws(() => decodeSegment(flipped, 'k')), 'corrupt-segment'));
  t.throws(() => decodeSegment(flipped, 'k'), { message: /SHA-256/ });
  // Continuing from a position it does not follow is refused even when the bytes are intact.
  const wrongStart = encodeSegment('g', 1, EMPTY, stamped.slice(1));
  t.throws(() => decodeSegment(wrongStart, 'k'), { message: /does not continue/ });
});
