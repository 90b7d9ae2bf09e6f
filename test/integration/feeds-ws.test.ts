import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FeedEvent, PriceSource, Tick } from '../../services/shared/market/tick.js';
import { binanceSource } from '../../services/ingest/sources/binance.js';
import { COINBASE_SUBSCRIBE, coinbaseSource } from '../../services/ingest/sources/coinbase.js';
import { KRAKEN_SUBSCRIBE, krakenSource } from '../../services/ingest/sources/kraken.js';
import { createRecorder } from '../../services/ingest/sources/recorder.js';
import { createReplaySource, loadRecording } from '../../services/ingest/sources/replay.js';
import type { ExchangeSourceOptions } from '../../services/ingest/sources/ws-source.js';
import { waitFor } from '../helpers/ports.js';

interface FakeExchange {
  url: string;
  connections: number;
  /** Every subscribe frame received, per connection. */
  subscribes: string[][];
  /** Path of each upgrade request. */
  paths: string[];
  dropAll(): void;
  close(): Promise<void>;
}

/**
 * A local stand-in for an exchange: on each connection it waits for the expected subscribe frame
 * (if any), then sends every raw message of the recording.
 */
async function startExchange(urlPath: string, subscribe: string | undefined, raws: readonly string[]): Promise<FakeExchange> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const { port } = wss.address() as AddressInfo;
  const ex: FakeExchange = {
    url: `ws://127.0.0.1:${port}${urlPath}`,
    connections: 0,
    subscribes: [],
    paths: [],
    dropAll: () => wss.clients.forEach((c) => c.terminate()),
    close: () =>
      new Promise<void>((resolve) => {
        wss.clients.forEach((c) => c.terminate());
        wss.close(() => resolve());
      }),
  };
  wss.on('connection', (ws: WebSocket, req) => {
    ex.connections++;
    ex.paths.push(req.url ?? '');
    const got: string[] = [];
    ex.subscribes.push(got);
    const replay = () => raws.forEach((raw) => ws.send(raw));
    if (subscribe === undefined) return replay();
    ws.on('message', (data) => {
      got.push(data.toString());
      // Like the real exchanges, nothing flows until a correct subscription arrives.
      if (data.toString() === subscribe) replay();
    });
  });
  return ex;
}

const cases: { name: string; path: string; subscribe: string | undefined; factory: (o: ExchangeSourceOptions) => PriceSource; ticks: number; first: number; last: number }[] = [
  { name: 'coinbase', path: '/', subscribe: COINBASE_SUBSCRIBE, factory: coinbaseSource, ticks: 48, first: 9_712_103, last: 9_712_951 },
  { name: 'binance', path: '/ws/btcusdt@trade', subscribe: undefined, factory: binanceSource, ticks: 52, first: 9_714_396, last: 9_713_541 },
  { name: 'kraken', path: '/v2', subscribe: KRAKEN_SUBSCRIBE, factory: krakenSource, ticks: 38, first: 9_712_010, last: 9_711_910 },
];

for (const c of cases) {
  test(`${c.name}: the real source subscribes, normalises the stream, survives a dropped link, and its recording replays to the same ticks`, async (t) => {
    const records = await loadRecording(path.resolve('test/fixtures/feeds', `${c.name}.jsonl`));
    const ex = await startExchange(c.path, c.subscribe, records.map((r) => r.raw));
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), `tapstack-feeds-${c.name}-`));
    const file = path.join(dir, 'rec.jsonl');
    const recorder = createRecorder({ file });
    const events: FeedEvent[] = [];
    const source = c.factory({ url: ex.url, backoff: { baseMs: 20, maxMs: 100 }, idleTimeoutMs: 5_000, onRaw: recorder.hook(c.name) });
    t.teardown(async () => {
      await source.stop();
      await ex.close();
      await recorder.close().catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    });

    const ticks = (): Tick[] => events.flatMap((e) => (e.type === 'tick' ? [e.tick] : []));
    source.start((e) => events.push(e));
    await waitFor(() => ticks().length >= c.ticks, `${c.name} first pass`, 5_000, 10);
    t.is(source.name, c.name);
    t.deepEqual(ex.paths, [c.path]);
    if (c.subscribe) t.deepEqual(ex.subscribes[0], [c.subscribe]);
    t.is(ticks().length, c.ticks);
    t.is(ticks()[0]?.priceCents, c.first);
    t.is(ticks().at(-1)?.priceCents, c.last);
    t.true(ticks().every((k) => k.source === c.name));
    const live = ticks();

    // Drop the link from the server side: the source must notice, back off briefly, and resume.
    // (Every fixture ends on a tick and frames arrive in order, so all of the first pass is in.)
    ex.dropAll();
    await waitFor(() => ticks().length >= 2 * c.ticks, `${c.name} after reconnect`, 5_000, 10);
    t.is(ex.connections, 2);
    t.is(ticks().length, 2 * c.ticks);
    t.is(ticks().at(-1)?.priceCents, c.last);
    const statuses = events.filter((e) => e.type === 'status');
    t.deepEqual(
      statuses.map((s) => s.type === 'status' && s.connected),
      [true, false, true],
    );
    t.regex((statuses[1]?.type === 'status' && statuses[1].detail) || '', /^closed 1006.*; reconnecting in \d+ ms$/);

    // The recorder saw every raw frame of both connections; replaying them gives back the live ticks.
    await source.stop();
    await recorder.close();
    t.is(recorder.stats().written, 2 * records.length);
    const recorded = await loadRecording(file);
    t.is(recorded.length, 2 * records.length);
    t.deepEqual(
      recorded.map((r) => r.raw),
      [...records, ...records].map((r) => r.raw),
    );
    const replay = createReplaySource({ records: recorded, speed: Number.POSITIVE_INFINITY, timestamps: 'recorded' });
    const replayed: Tick[] = [];
    replay.start((e) => void (e.type === 'tick' && replayed.push(e.tick)));
    await replay.finished;
    t.deepEqual(replayed, ticks());
    t.deepEqual(replayed.slice(0, c.ticks), live);
  });
}

test('a source pointed at a dead port keeps retrying with backoff and stops cleanly', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const { port } = wss.address() as AddressInfo;
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  const events: FeedEvent[] = [];
  const source = coinbaseSource({ url: `ws://127.0.0.1:${port}`, backoff: { baseMs: 10, maxMs: 40 }, idleTimeoutMs: 1_000 });
  t.teardown(() => source.stop());
  source.start((e) => events.push(e));
  await waitFor(() => events.length >= 4, 'several failed attempts', 5_000, 10);
  await source.stop();
  const n = events.length;
  t.true(events.every((e) => e.type === 'status' && !e.connected && /ECONNREFUSED/.test(e.detail ?? '')));
  await new Promise((r) => setTimeout(r, 100));
  t.is(events.length, n);
});
