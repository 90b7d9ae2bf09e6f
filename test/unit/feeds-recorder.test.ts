import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createRecorder } from '../../services/ingest/sources/recorder.js';
import { parseRecording } from '../../services/ingest/sources/replay.js';

async function tmpFile(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tapstack-recorder-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'feed.jsonl');
}

test('each raw message becomes one JSON line, in order, raw text preserved exactly', async (t) => {
  const file = await tmpFile(t);
  const rec = createRecorder({ file });
  const cb = rec.hook('coinbase');
  const kr = rec.hook('kraken');
  cb('{"type":"heartbeat"}', 10);
  kr('line one\nline "two"\u0000', 11);
  cb('', 12);
  await rec.close();
  const text = await fs.readFile(file, 'utf8');
  t.is(text.split('\n').length, 4, 'three lines and a final newline');
  t.deepEqual(parseRecording(text), [
    { src: 'coinbase', recvTs: 10, raw: '{"type":"heartbeat"}' },
    { src: 'kraken', recvTs: 11, raw: 'line one\nline "two"\u0000' },
    { src: 'coinbase', recvTs: 12, raw: '' },
  ]);
  t.deepEqual(rec.stats(), { written: 3, dropped: 0 });
});

test('recordings append by default and start afresh with truncate', async (t) => {
  const file = await tmpFile(t);
  for (const n of [1, 2]) {
    const rec = createRecorder({ file });
    rec.write({ src: 'binance', recvTs: n, raw: '{}' });
    await rec.close();
  }
  t.is(parseRecording(await fs.readFile(file, 'utf8')).length, 2);
  const rec = createRecorder({ file, truncate: true });
  rec.write({ src: 'binance', recvTs: 3, raw: '{}' });
  await rec.close();
  t.deepEqual(parseRecording(await fs.readFile(file, 'utf8')), [{ src: 'binance', recvTs: 3, raw: '{}' }]);
});

test('lines written after close are dropped and counted; close is idempotent', async (t) => {
  const file = await tmpFile(t);
  const rec = createRecorder({ file });
  const closing = rec.close();
  rec.write({ src: 'binance', recvTs: 1, raw: '{}' });
  await closing;
  await rec.close();
  t.deepEqual(rec.stats(), { written: 0, dropped: 1 });
});

test('a recording that cannot be written reports the error once and close rejects with it', async (t) => {
  const file = path.join(os.tmpdir(), 'tapstack-no-such-dir', String(process.pid), 'feed.jsonl');
  const errors: Error[] = [];
  const rec = createRecorder({ file, onError: (err) => errors.push(err) });
  rec.write({ src: 'kraken', recvTs: 1, raw: '{}' });
  await t.throwsAsync(rec.close(), { code: 'ENOENT' });
  rec.write({ src: 'kraken', recvTs: 2, raw: '{}' });
  t.is(errors.length, 1);
  t.is(rec.stats().dropped, 1);
});

test('past maxBufferBytes waiting for the disk, lines are dropped rather than queued', async (t) => {
  const file = await tmpFile(t);
  const rec = createRecorder({ file, maxBufferBytes: 100 });
  const raw = 'x'.repeat(80);
  for (let i = 0; i < 10; i++) rec.write({ src: 'coinbase', recvTs: i, raw });
  await rec.close();
  const { written, dropped } = rec.stats();
  t.is(written + dropped, 10);
  t.true(dropped > 0);
  t.is(parseRecording(await fs.readFile(file, 'utf8')).length, written);
});
