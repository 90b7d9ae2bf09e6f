/**
 * The writer's checkpoint thread (services/writer/checkpointer.ts): with it, the WAL stays small
 * although the writer's own connection never checkpoints inside its commits; without it, the same
 * writes leave all of themselves in the WAL; under back-to-back commits the WAL restarts only with
 * the writer's catch-up after each complete pass. Real SQLite files, a real worker thread.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { openDb, type Db } from '../../services/shared/db/database.js';
import { createLogger } from '../../services/shared/logger.js';
import { startCheckpointer, type Checkpointer } from '../../services/writer/checkpointer.js';
import { waitFor } from '../helpers/ports.js';

const ROWS = 200;
const CHUNKS = 30;
const ROW_BYTES = 1024;

function freshDb(t: { teardown(fn: () => void): void }, walSizeLimitBytes?: number): Db {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-checkpointer-'));
  const db = openDb(path.join(dir, 'db.sqlite'), { checkpointThread: true, ...(walSizeLimitBytes !== undefined ? { walSizeLimitBytes } : {}) });
  db.raw.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

/** CHUNKS transactions of ROWS rows each; after each, `between` (e.g. wait for a checkpoint). */
async function writeChunks(db: Db, between: () => Promise<void>): Promise<number> {
  const insert = db.raw.prepare('INSERT INTO t (v) VALUES (randomblob(?))');
  for (let c = 0; c < CHUNKS; c++) {
    db.write(() => {
      for (let i = 0; i < ROWS; i++) insert.run(ROW_BYTES);
    });
    await between();
  }
  return CHUNKS * ROWS * ROW_BYTES;
}

const walBytes = (db: Db) => fs.statSync(`${db.file}-wal`).size;
const log = createLogger({ service: 'test', level: 'silent' });

test('without the thread, the writer connection leaves every write in the WAL (its automatic checkpoint is only a safety valve)', async (t) => {
  const db = freshDb(t);
  const written = await writeChunks(db, async () => undefined);
  t.true(walBytes(db) > written, `WAL ${walBytes(db)} bytes after ${written} bytes written`);
});

test('with the thread, the WAL is copied into the main file as it goes and stays small; stop() ends the thread', async (t) => {
  const db = freshDb(t);
  const cp: Checkpointer = startCheckpointer({ file: db.file, synchronous: 'FULL', intervalMs: 10 }, log);
  t.teardown(() => cp.stop());
  const written = await writeChunks(db, async () => {
    // Each chunk is copied before the next one is written (the next transaction then restarts the WAL).
    const before = cp.count();
    await waitFor(() => (cp.count() > before && cp.last()?.checkpointed === cp.last()?.walFrames) || undefined, 'a complete checkpoint by the thread');
  });
  t.true(cp.count() > 0);
  t.true(walBytes(db) < written / 4, `WAL ${walBytes(db)} bytes after ${written} bytes written`);
  t.is(db.raw.prepare('SELECT count(*) FROM t').pluck().get(), CHUNKS * ROWS);
  await cp.stop();
  // The thread's connection is closed: the shutdown checkpoint truncates the WAL.
  db.checkpoint();
  t.is(walBytes(db), 0);
});

test('after a burst the WAL file shrinks back to its size limit once the thread has copied it', async (t) => {
  const limit = 256 * 1024;
  const db = freshDb(t, limit);
  // The burst: no checkpoint runs meanwhile (as with a reader holding them back), the WAL grows.
  const written = await writeChunks(db, async () => undefined);
  t.true(walBytes(db) > written, `WAL ${walBytes(db)} bytes after the burst`);
  const cp: Checkpointer = startCheckpointer({ file: db.file, synchronous: 'FULL', intervalMs: 10 }, log);
  t.teardown(() => cp.stop());
  await waitFor(() => (cp.count() > 0 && cp.last()?.checkpointed === cp.last()?.walFrames) || undefined, 'a complete checkpoint by the thread');
  // The next transaction restarts the WAL from its start, and cuts the file down to the limit.
  db.write(() => db.raw.prepare('INSERT INTO t (v) VALUES (randomblob(10))').run());
  t.true(walBytes(db) <= limit, `WAL ${walBytes(db)} bytes, limit ${limit}`);
  t.is(db.raw.prepare('SELECT count(*) FROM t').pluck().get(), CHUNKS * ROWS + 1);
});

/** The WAL header's first salt: SQLite changes it each time the WAL restarts from its start. */
const walSalt = (db: Db): number => {
  const fd = fs.openSync(`${db.file}-wal`, 'r');
  try {
    const header = Buffer.alloc(32);
    fs.readSync(fd, header, 0, 32, 0);
    return header.readUInt32BE(16);
  } finally {
    fs.closeSync(fd);
  }
};

/**
 * A writer that commits back to back (20 transactions per turn of the event loop, the thread's
 * messages handled between turns) until the thread has sent `passes` messages; counts the WAL's
 * restarts (header salt changes) and the largest WAL file seen.
 */
async function backToBack(db: Db, cp: Checkpointer, passes: number): Promise<{ restarts: number; maxWal: number; commits: number }> {
  const insert = db.raw.prepare('INSERT INTO t (v) VALUES (randomblob(?))');
  let maxWal = 0;
  let commits = 0;
  let restarts = 0;
  const start = cp.count();
  let salt = -1;
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        for (let i = 0; i < 20; i++) {
          db.write(() => {
            for (let r = 0; r < 20; r++) insert.run(ROW_BYTES);
          });
          commits += 1;
          const now = walSalt(db);
          if (salt !== -1 && now !== salt) restarts += 1;
          salt = now;
        }
        maxWal = Math.max(maxWal, walBytes(db));
        setImmediate(() => resolve(cp.count() - start >= passes));
      }),
    `${passes} checkpoint passes under back-to-back commits`,
    60_000,
    0,
  );
  return { restarts, maxWal, commits };
}

test('under back-to-back commits the WAL restarts after each complete pass only with the catch-up on the writer connection', async (t) => {
  const run = async (withCatchUp: boolean) => {
    const db = freshDb(t);
    let catchUps = 0;
    const cp = startCheckpointer({ file: db.file, synchronous: 'FULL', intervalMs: 20 }, log, withCatchUp ? { catchUp: () => ((catchUps += 1), db.checkpointPassive()) } : {});
    try {
      return { ...(await backToBack(db, cp, 40)), catchUps };
    } finally {
      await cp.stop();
    }
  };
  const without = await run(false);
  const withIt = await run(true);
  t.log(`without: ${JSON.stringify(without)}; with: ${JSON.stringify(withIt)}`);
  t.true(withIt.catchUps >= 5, `${withIt.catchUps} catch-ups`);
  // A catch-up is followed by a restart at the writer's next commit (no other reader here), unless
  // a late one overlapped the thread's next pass on a busy machine.
  t.true(withIt.restarts >= withIt.catchUps / 2, `${withIt.restarts} restarts after ${withIt.catchUps} catch-ups`);
  t.true(withIt.restarts > without.restarts, `${withIt.restarts} restarts with the catch-up, ${without.restarts} without`);
});
