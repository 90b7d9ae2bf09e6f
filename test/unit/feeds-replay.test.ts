import path from 'node:path';
import test from 'ava';
import type { FeedEvent, Tick } from '../../services/shared/market/tick.js';
import { normaliseBinance } from '../../services/ingest/sources/binance.js';
import { normaliseCoinbase } from '../../services/ingest/sources/coinbase.js';
import { createReplaySource, loadRecording, parseRecording } from '../../services/ingest/sources/replay.js';
import { createManualClock } from '../../services/ingest/sources/timers.js';

const fixture = (name: string): string => path.resolve('test/fixtures/feeds', `${name}.jsonl`);
const ticksOf = (events: FeedEvent[]): Tick[] => events.flatMap((e) => (e.type === 'tick' ? [e.tick] : []));

test('at speed 1 records arrive at their recorded pacing on the fake clock, restamped to it', async (t) => {
  const records = await loadRecording(fixture('coinbase'));
  const first = records[0]?.recvTs ?? 0;
  const clock = createManualClock(5_000);
  const src = createReplaySource({ records, now: clock.now, timers: clock });
  const events: FeedEvent[] = [];
  src.start((e) => events.push(e));
  t.like(events[0], { type: 'status', source: 'replay', connected: true });

  clock.advance(5_000);
  const due = records.filter((r) => r.recvTs - first <= 5_000).map((r) => normaliseCoinbase(r.raw, r.recvTs));
  const expected = due.flat().filter((e) => e.type === 'tick').length;
  t.is(ticksOf(events).length, expected);
  t.true(expected > 10 && expected < 48);

  // Each tick lands exactly at its recorded offset, and keeps its exchange-to-receive gap.
  const live = records.flatMap((r) => normaliseCoinbase(r.raw, r.recvTs)).flatMap((e) => (e.type === 'tick' ? [e.tick] : []));
  for (const [i, k] of ticksOf(events).entries()) {
    const orig = live[i] as Tick;
    t.is(k.recvTs, 5_000 + (orig.recvTs - first));
    t.is(k.recvTs - k.ts, orig.recvTs - orig.ts);
  }

  clock.runAll();
  await src.finished;
  t.is(ticksOf(events).length, 48);
  t.is(events.filter((e) => e.type === 'heartbeat').length, 11);
  t.like(events.at(-1), { type: 'status', connected: false, detail: 'end of recording' });
  t.is(clock.now(), 5_000 + ((records.at(-1)?.recvTs ?? 0) - first));
});

test('a speed factor compresses the recording in time', async (t) => {
  const records = await loadRecording(fixture('kraken'));
  const span = (records.at(-1)?.recvTs ?? 0) - (records[0]?.recvTs ?? 0);
  const clock = createManualClock(0);
  const src = createReplaySource({ records, speed: 10, now: clock.now, timers: clock });
  const events: FeedEvent[] = [];
  src.start((e) => events.push(e));
  clock.runAll();
  await src.finished;
  t.is(ticksOf(events).length, 38);
  t.true(Math.abs(clock.now() - span / 10) <= 1, `${clock.now()} vs ${span / 10}`);
});

test("with timestamps 'recorded' and infinite speed it emits exactly what the live normaliser emitted, in batches", async (t) => {
  const records = await loadRecording(fixture('binance'));
  const clock = createManualClock(0);
  const src = createReplaySource({ records, speed: Number.POSITIVE_INFINITY, timestamps: 'recorded', batchSize: 10, now: clock.now, timers: clock });
  const events: FeedEvent[] = [];
  src.start((e) => events.push(e));
  clock.runAll(1);
  t.is(ticksOf(events).length, 9, 'one batch of 10 records (the ack and 9 trades) per scheduler turn');
  clock.runAll();
  await src.finished;
  t.is(clock.now(), 0, 'no waiting between records');
  t.deepEqual(ticksOf(events), ticksOf(records.flatMap((r) => normaliseBinance(r.raw, r.recvTs))));
});

test('several sources in one recording go through their own normalisers; unknown sources are skipped', (t) => {
  const records = [
    { src: 'coinbase', recvTs: 10, raw: '{"type":"ticker","product_id":"BTC-USD","price":"97000.00","time":"1970-01-01T00:00:00.005Z"}' },
    { src: 'bitstamp', recvTs: 11, raw: '{"price":"1"}' },
    { src: 'kraken', recvTs: 12, raw: '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":97001.5}]}' },
    { src: 'binance', recvTs: 13, raw: '{"e":"trade","s":"BTCUSDT","p":"97002.00000000","T":12}' },
  ];
  const clock = createManualClock(100);
  const src = createReplaySource({ records, speed: Number.POSITIVE_INFINITY, now: clock.now, timers: clock });
  const events: FeedEvent[] = [];
  src.start((e) => events.push(e));
  clock.runAll();
  t.deepEqual(ticksOf(events), [
    { source: 'coinbase', priceCents: 9_700_000, ts: 95, recvTs: 100 },
    { source: 'kraken', priceCents: 9_700_150, ts: 100, recvTs: 100 },
    { source: 'binance', priceCents: 9_700_200, ts: 99, recvTs: 100 },
  ]);
});

test('stop halts a replay midway and resolves finished', async (t) => {
  const records = await loadRecording(fixture('coinbase'));
  const clock = createManualClock(0);
  const src = createReplaySource({ records, now: clock.now, timers: clock });
  const events: FeedEvent[] = [];
  src.start((e) => events.push(e));
  clock.advance(2_000);
  const n = events.length;
  await src.stop();
  await src.finished;
  clock.advance(60_000);
  t.is(events.length, n);
  t.is(clock.pending(), 0);
});

test('parseRecording skips blank, torn and ill-typed lines', (t) => {
  const text = [
    '{"src":"coinbase","recvTs":1,"raw":"{}"}',
    '',
    '{"src":"coinbase","recvTs":"2","raw":"{}"}',
    '{"src":"kraken","recvTs":3,"raw":{"channel":"heartbeat"}}',
    '{"src":"kraken","recvTs":4,"raw":"{\\"channel\\":\\"heartbeat\\"}"}',
    '{"src":"kraken","recvTs":5,"ra',
  ].join('\n');
  t.deepEqual(parseRecording(text), [
    { src: 'coinbase', recvTs: 1, raw: '{}' },
    { src: 'kraken', recvTs: 4, raw: '{"channel":"heartbeat"}' },
  ]);
});

test('an empty recording ends at once', async (t) => {
  const clock = createManualClock(0);
  const src = createReplaySource({ records: [], now: clock.now, timers: clock });
  const events: FeedEvent[] = [];
  src.start((e) => events.push(e));
  clock.runAll();
  await src.finished;
  t.is(events.length, 2);
});
