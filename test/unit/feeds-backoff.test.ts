import { EventEmitter } from 'node:events';
import test from 'ava';
import type { FeedEvent } from '../../services/shared/market/tick.js';
import { normaliseCoinbase } from '../../services/ingest/sources/coinbase.js';
import { createManualClock, type ManualClock } from '../../services/ingest/sources/timers.js';
import { backoffDelay, createWsSource, type WsLike } from '../../services/ingest/sources/ws-source.js';

test('the backoff ceiling doubles from baseMs and caps at maxMs; full jitter scales it by random', (t) => {
  const b = { baseMs: 1_000, maxMs: 30_000 };
  const schedule = (r: number) => Array.from({ length: 8 }, (_, i) => backoffDelay(i, b, () => r));
  t.deepEqual(schedule(0.5), [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
  t.deepEqual(schedule(0.999), [999, 1_998, 3_996, 7_992, 15_984, 29_970, 29_970, 29_970]);
  t.deepEqual(schedule(0), [0, 0, 0, 0, 0, 0, 0, 0]);
  t.is(backoffDelay(5_000, b, () => 0.5), 15_000, 'huge attempt counts do not overflow');
});

/** A scripted stand-in for a ws socket. */
class FakeSocket extends EventEmitter implements WsLike {
  sent: string[] = [];
  closedWith: number | undefined;
  constructor(readonly url: string, readonly openedAt: number) {
    super();
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.emit('close', code, Buffer.from('bye'));
  }
  terminate(): void {
    this.closedWith = 1006;
    this.emit('close', 1006, Buffer.alloc(0));
  }
  open(): void {
    this.emit('open');
  }
  receive(raw: string): void {
    this.emit('message', Buffer.from(raw), false);
  }
  fail(message: string): void {
    this.emit('error', new Error(message));
    this.emit('close', 1006, Buffer.alloc(0));
  }
}

const HEARTBEAT = '{"type":"heartbeat","product_id":"BTC-USD","sequence":1,"last_trade_id":1,"time":"2025-01-15T12:00:00.000000Z"}';
const TICKER = '{"type":"ticker","product_id":"BTC-USD","price":"97000.01","time":"2025-01-15T12:00:00.000000Z"}';

function harness(random = () => 0.5, clock: ManualClock = createManualClock(0)) {
  const sockets: FakeSocket[] = [];
  const events: FeedEvent[] = [];
  const raws: [string, number][] = [];
  const src = createWsSource({
    name: 'coinbase',
    url: 'wss://example.test/feed',
    subscribe: ['{"type":"subscribe"}'],
    normalise: normaliseCoinbase,
    backoff: { baseMs: 100, maxMs: 1_000 },
    idleTimeoutMs: 5_000,
    now: clock.now,
    random,
    timers: clock,
    onRaw: (raw, recvTs) => raws.push([raw, recvTs]),
    connect: (url) => {
      const s = new FakeSocket(url, clock.now());
      sockets.push(s);
      return s;
    },
  });
  const last = (): FakeSocket => sockets.at(-1) as FakeSocket;
  const statuses = () => events.filter((e) => e.type === 'status');
  return { src, clock, sockets, events, raws, last, statuses };
}

test('failed connects retry on the jittered exponential schedule', (t) => {
  const h = harness();
  h.src.start((e) => h.events.push(e));
  for (let i = 0; i < 6; i++) {
    h.last().fail('connect ECONNREFUSED');
    h.clock.runAll(1); // only the reconnect timer: the idle timer was cleared on close
  }
  const gaps = h.sockets.slice(1).map((s, i) => s.openedAt - (h.sockets[i] as FakeSocket).openedAt);
  t.deepEqual(gaps, [50, 100, 200, 400, 500, 500]);
  t.like(h.statuses()[0], { type: 'status', source: 'coinbase', connected: false, detail: 'connect ECONNREFUSED; reconnecting in 50 ms' });
});

test('on open it subscribes and reports connected; data resets the backoff', (t) => {
  const h = harness();
  h.src.start((e) => h.events.push(e));
  h.last().fail('boom');
  h.clock.runAll(1);
  h.last().fail('boom');
  h.clock.runAll(1);
  h.last().fail('boom'); // three failures: the next delay would be 400
  h.clock.runAll(1);
  const s = h.last();
  s.open();
  t.deepEqual(s.sent, ['{"type":"subscribe"}']);
  t.like(h.statuses().at(-1), { connected: true });
  s.receive(HEARTBEAT);
  s.receive(TICKER);
  t.deepEqual(
    h.events.filter((e) => e.type !== 'status').map((e) => e.type),
    ['heartbeat', 'tick'],
  );
  t.is(h.raws.length, 2);
  s.close(1001);
  t.like(h.statuses().at(-1), { connected: false, detail: 'closed 1001 (bye); reconnecting in 50 ms' });
});

test('a link that opens but delivers no data does not reset the backoff', (t) => {
  const h = harness();
  h.src.start((e) => h.events.push(e));
  h.last().fail('boom');
  h.clock.runAll(1);
  const s = h.last();
  s.open();
  s.receive('{"type":"subscriptions","channels":[]}'); // an ack is not proof the feed works
  s.close(1011);
  const last = h.statuses().at(-1);
  t.is(last?.type === 'status' ? last.detail : '', 'closed 1011 (bye); reconnecting in 100 ms');
});

test('silence for idleTimeoutMs (handshake included) terminates the link and reconnects', (t) => {
  const h = harness();
  h.src.start((e) => h.events.push(e));
  h.clock.advance(4_999);
  t.is(h.sockets.length, 1);
  h.clock.advance(1); // handshake never completed
  t.is(h.sockets[0]?.closedWith, 1006);
  h.clock.advance(50);
  t.is(h.sockets.length, 2);
  const s = h.last();
  s.open();
  h.clock.advance(3_000);
  s.receive(HEARTBEAT); // heartbeats count as activity
  h.clock.advance(3_000);
  s.emit('ping'); // so do protocol pings
  h.clock.advance(4_999);
  t.is(s.closedWith, undefined);
  h.clock.advance(1);
  t.is(s.closedWith, 1006);
  const last = h.statuses().at(-1);
  t.is(last?.type === 'status' ? last.detail : '', 'nothing received for 5000 ms; reconnecting in 50 ms');
});

test('stop closes the socket, cancels timers, and nothing is emitted or reconnected afterwards', async (t) => {
  const h = harness();
  h.src.start((e) => h.events.push(e));
  const s = h.last();
  s.open();
  s.receive(TICKER);
  const n = h.events.length;
  await h.src.stop();
  t.is(s.closedWith, 1000);
  s.receive(TICKER);
  h.clock.advance(60_000);
  t.is(h.sockets.length, 1);
  t.is(h.events.length, n);
  t.is(h.clock.pending(), 0);
  await h.src.stop(); // idempotent
});

test('stop during a backoff wait cancels the pending reconnect', async (t) => {
  const h = harness();
  h.src.start((e) => h.events.push(e));
  h.last().fail('boom');
  await h.src.stop();
  h.clock.advance(10_000);
  t.is(h.sockets.length, 1);
});

test('a connect that throws synchronously is retried like a failed one', (t) => {
  const clock = createManualClock(0);
  let calls = 0;
  const events: FeedEvent[] = [];
  const src = createWsSource({
    name: 'x',
    url: 'not a url',
    normalise: () => [],
    backoff: { baseMs: 10, maxMs: 10 },
    idleTimeoutMs: 1_000,
    now: clock.now,
    random: () => 0.5,
    timers: clock,
    connect: () => {
      calls++;
      throw new SyntaxError('Invalid URL');
    },
  });
  src.start((e) => events.push(e));
  clock.advance(20);
  t.is(calls, 5);
  t.like(events[0], { type: 'status', connected: false, detail: 'connect failed: Invalid URL; reconnecting in 5 ms' });
  void src.stop();
});
