import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import type { FeedEvent, Tick } from '../../services/shared/market/tick.js';
import { normaliseBinance } from '../../services/ingest/sources/binance.js';
import { normaliseCoinbase } from '../../services/ingest/sources/coinbase.js';
import { normaliseKraken } from '../../services/ingest/sources/kraken.js';
import type { Normaliser } from '../../services/ingest/sources/normalise.js';
import { loadRecording } from '../../services/ingest/sources/replay.js';

const fixture = (name: string): string => path.resolve('test/fixtures/feeds', `${name}.jsonl`);

async function replayFixture(name: string, normalise: Normaliser) {
  const records = await loadRecording(fixture(name));
  const ticks: Tick[] = [];
  let heartbeats = 0;
  let statuses = 0;
  let silent = 0;
  for (const r of records) {
    const events = normalise(r.raw, r.recvTs);
    if (events.length === 0) silent++;
    for (const e of events) {
      if (e.type === 'tick') ticks.push(e.tick);
      else if (e.type === 'heartbeat') heartbeats++;
      else statuses++;
    }
  }
  return { records, ticks, heartbeats, statuses, silent };
}

test('the Coinbase recording yields one tick per BTC-USD ticker, heartbeats apart, and ignores the ack, ETH-USD and the torn frame', async (t) => {
  const r = await replayFixture('coinbase', normaliseCoinbase);
  t.is(r.records.length, 62);
  t.is(r.ticks.length, 48);
  t.is(r.heartbeats, 11);
  t.is(r.statuses, 0);
  t.is(r.silent, 3); // subscriptions ack, ETH-USD ticker, garbage
  t.deepEqual(r.ticks[0], { source: 'coinbase', priceCents: 9_712_103, ts: Date.parse('2025-01-15T12:00:00.201Z'), recvTs: 1_736_942_400_243 });
  t.is(r.ticks.at(-1)?.priceCents, 9_712_951);
  t.is(r.ticks.at(-1)?.recvTs, 1_736_942_410_678);
  t.true(r.ticks.every((k) => k.ts <= k.recvTs && k.recvTs - k.ts < 100), 'exchange time parsed from `time`');
});

test('the Binance recording yields one tick per BTCUSDT trade stamped with the trade time T', async (t) => {
  const r = await replayFixture('binance', normaliseBinance);
  t.is(r.records.length, 55);
  t.is(r.ticks.length, 52);
  t.is(r.heartbeats, 0); // Binance keeps the link alive with protocol pings, not messages
  t.is(r.silent, 3); // {"result":null,"id":1}, ETHUSDT trade, garbage
  t.deepEqual(r.ticks[0], { source: 'binance', priceCents: 9_714_396, ts: 1_736_942_405_238, recvTs: 1_736_942_405_255 });
  t.is(r.ticks.at(-1)?.priceCents, 9_713_541);
  t.is(r.ticks.at(-1)?.ts, 1_736_942_410_812);
});

test('the Kraken recording yields a tick per BTC/USD snapshot or update priced at last, heartbeats apart', async (t) => {
  const r = await replayFixture('kraken', normaliseKraken);
  t.is(r.records.length, 52);
  t.is(r.ticks.length, 38);
  t.is(r.heartbeats, 10);
  t.is(r.statuses, 0); // an online status and a successful ack are not news
  t.is(r.silent, 4); // status, subscribe ack, ETH/USD update, garbage
  t.deepEqual(r.ticks[0], { source: 'kraken', priceCents: 9_712_010, ts: Date.parse('2025-01-15T12:00:10.332Z'), recvTs: 1_736_942_410_372 });
  t.is(r.ticks.at(-1)?.priceCents, 9_711_910);
  t.is(r.ticks.at(-1)?.ts, Date.parse('2025-01-15T12:00:21.173Z'));
});

const bad: Record<string, [Normaliser, string[]]> = {
  coinbase: [
    normaliseCoinbase,
    [
      '{"type":"ticker","product_id":"BTC-USD"}',
      '{"type":"ticker","product_id":"BTC-USD","price":"abc"}',
      '{"type":"ticker","product_id":"BTC-USD","price":"-97000.00"}',
      '{"type":"ticker","product_id":"BTC-USD","price":"0.00"}',
      '{"type":"ticker","product_id":"BTC-USD","price":null}',
      '{"type":"ticker","product_id":"BTC-USD","price":"1e5"}',
      '{"type":"heartbeat","product_id":"ETH-USD"}',
      '{"type":"l2update","product_id":"BTC-USD","changes":[]}',
    ],
  ],
  binance: [
    normaliseBinance,
    [
      '{"e":"trade","s":"BTCUSDT"}',
      '{"e":"trade","s":"BTCUSDT","p":"0.00000000","T":1}',
      '{"e":"trade","s":"BTCUSDT","p":"NaN","T":1}',
      '{"e":"aggTrade","s":"BTCUSDT","p":"97000.00","T":1}',
      '{"e":"trade","s":"btcusdt","p":"97000.00","T":1}',
      '{"result":null,"id":7}',
    ],
  ],
  kraken: [
    normaliseKraken,
    [
      '{"channel":"ticker","type":"update","data":{}}',
      '{"channel":"ticker","type":"update","data":[null,1,"x"]}',
      '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":null}]}',
      '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":"x"}]}',
      '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":-5}]}',
      '{"channel":"ticker","type":"update","data":[{"symbol":"XBT/USD","last":97000.1}]}',
      '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","price":97000.1}]}',
      '{"method":"pong","time_in":"2025-01-15T12:00:00.000000Z"}',
    ],
  ],
};

for (const [name, [normalise, cases]] of Object.entries(bad)) {
  test(`${name}: malformed JSON, other shapes and garbage fields give no events`, (t) => {
    for (const raw of ['', 'null', '[]', '42', '"ticker"', '{', '{"type":', '{}', ...cases]) t.deepEqual(normalise(raw, 1), [], raw);
  });

  test(`${name}: no input at all makes the normaliser throw`, (t) => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (raw) => {
        const out: FeedEvent[] = normalise(raw, 1);
        return Array.isArray(out);
      }),
      { numRuns: 500 },
    );
    t.pass();
  });
}

test('a missing or unparseable exchange time falls back to the receive time', (t) => {
  const [cb] = normaliseCoinbase('{"type":"ticker","product_id":"BTC-USD","price":"97000.5","time":"yesterday"}', 555);
  t.deepEqual(cb, { type: 'tick', tick: { source: 'coinbase', priceCents: 9_700_050, ts: 555, recvTs: 555 } });
  const [bn] = normaliseBinance('{"e":"trade","s":"BTCUSDT","p":"97000.50000000","T":"soon"}', 556);
  t.deepEqual(bn, { type: 'tick', tick: { source: 'binance', priceCents: 9_700_050, ts: 556, recvTs: 556 } });
  const [kr] = normaliseKraken('{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","last":97000.5}]}', 557);
  t.deepEqual(kr, { type: 'tick', tick: { source: 'kraken', priceCents: 9_700_050, ts: 557, recvTs: 557 } });
});

test('sub-cent prices are rounded half-up through priceToCents', (t) => {
  const [e] = normaliseBinance('{"e":"trade","s":"BTCUSDT","p":"97000.12500000","T":9}', 10);
  t.is(e?.type === 'tick' ? e.tick.priceCents : 0, 9_700_013);
});

test('Binance combined-stream envelopes are unwrapped', (t) => {
  const raw = JSON.stringify({ stream: 'btcusdt@trade', data: { e: 'trade', E: 2, s: 'BTCUSDT', t: 1, p: '97000.00000000', q: '0.1', T: 1, m: true, M: true } });
  t.is(normaliseBinance(raw, 3).length, 1);
});

test('exchange-side errors become status events that keep the link marked connected', (t) => {
  t.like(normaliseCoinbase('{"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}', 1)[0], {
    type: 'status',
    source: 'coinbase',
    connected: true,
    detail: 'exchange error: Failed to subscribe (BTC-XYZ is not a valid product)',
  });
  t.like(normaliseKraken('{"method":"subscribe","success":false,"error":"Currency pair not supported","symbol":"BTC/XYZ"}', 1)[0], {
    type: 'status',
    source: 'kraken',
    connected: true,
  });
  t.like(normaliseKraken('{"channel":"status","type":"update","data":[{"api_version":"v2","system":"maintenance"}]}', 1)[0], {
    type: 'status',
    detail: 'exchange status: maintenance',
  });
  t.like(normaliseBinance('{"error":{"code":2,"msg":"Invalid request"},"id":1}', 1)[0], { type: 'status', source: 'binance' });
});
