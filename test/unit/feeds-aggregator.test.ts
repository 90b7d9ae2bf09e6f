import test from 'ava';
import type { Tick } from '../../services/shared/market/tick.js';
import { createAggregator, medianCents } from '../../services/ingest/aggregator.js';

const tick = (source: string, priceCents: number, recvTs: number): Tick => ({ source, priceCents, ts: recvTs - 20, recvTs });
const opts = { staleAfterMs: 5_000, maxDeviationBps: 100, minSources: 2 };

test('the settlement price is the median of the three sources latest prices, stamped with the incoming recvTs', (t) => {
  const agg = createAggregator(opts);
  t.is(agg.push(tick('coinbase', 9_700_000, 1_000)), undefined, 'one source is not enough');
  t.deepEqual(agg.push(tick('binance', 9_700_400, 1_100)), { source: 'median', priceCents: 9_700_200, ts: 1_100, recvTs: 1_100 });
  t.deepEqual(agg.push(tick('kraken', 9_699_000, 1_200)), { source: 'median', priceCents: 9_700_000, ts: 1_200, recvTs: 1_200 });
  t.is(agg.push(tick('coinbase', 9_701_000, 1_300))?.priceCents, 9_700_400);
});

test('a source lying by +5 % is rejected and the median stays on the honest two', (t) => {
  const agg = createAggregator({ ...opts, now: () => 2_000 });
  agg.push(tick('coinbase', 9_700_000, 1_000));
  agg.push(tick('kraken', 9_700_100, 1_010));
  const out = agg.push(tick('binance', 10_185_000, 1_020));
  t.is(out?.priceCents, 9_700_050);
  const byName = Object.fromEntries(agg.status().map((s) => [s.source, s]));
  t.true(byName.binance?.rejected);
  t.false(byName.coinbase?.rejected);
  t.deepEqual(byName.kraken, { source: 'kraken', priceCents: 9_700_100, recvTs: 1_010, ageMs: 990, fresh: true, rejected: false });
  // The liar keeps ticking: every one of its ticks still settles on the honest pair.
  t.is(agg.push(tick('binance', 10_185_100, 1_030))?.priceCents, 9_700_050);
});

test('two sources that disagree beyond the limit settle nothing, since neither can be trusted', (t) => {
  const agg = createAggregator(opts);
  agg.push(tick('coinbase', 9_700_000, 1_000));
  t.is(agg.push(tick('binance', 10_185_000, 1_001)), undefined);
  t.true(agg.status().every((s) => s.rejected));
});

test('a source whose last price is older than staleAfterMs is left out', (t) => {
  const agg = createAggregator({ ...opts, now: () => 10_000 });
  agg.push(tick('kraken', 9_000_000, 1_000)); // will go stale
  agg.push(tick('coinbase', 9_700_000, 5_000));
  const out = agg.push(tick('binance', 9_700_200, 6_001)); // kraken is 5 001 ms old here
  t.is(out?.priceCents, 9_700_100);
  t.false(agg.status().find((s) => s.source === 'kraken')?.fresh);
  t.is(agg.status().find((s) => s.source === 'kraken')?.rejected, false, 'stale is not the same as rejected');
});

test('exactly staleAfterMs old still counts as fresh', (t) => {
  const agg = createAggregator(opts);
  agg.push(tick('coinbase', 9_700_000, 1_000));
  t.is(agg.push(tick('binance', 9_700_200, 6_000))?.priceCents, 9_700_100);
});

test('fewer than minSources fresh and agreeing sources give no settlement tick', (t) => {
  const agg = createAggregator({ ...opts, minSources: 3 });
  agg.push(tick('coinbase', 9_700_000, 1_000));
  t.is(agg.push(tick('binance', 9_700_100, 1_001)), undefined);
  t.is(agg.push(tick('kraken', 9_700_200, 1_002))?.priceCents, 9_700_100);
  // One of three turns into an outlier: two agree, which is below minSources.
  t.is(agg.push(tick('kraken', 9_000_000, 1_003)), undefined);
});

test('a single source suffices when minSources is 1', (t) => {
  const agg = createAggregator({ ...opts, minSources: 1 });
  t.is(agg.push(tick('synthetic', 9_700_000, 1))?.priceCents, 9_700_000);
});

test('median ticks and nonsense prices are not taken as source evidence', (t) => {
  const agg = createAggregator({ ...opts, minSources: 1 });
  t.is(agg.push(tick('median', 9_700_000, 1)), undefined);
  t.is(agg.push(tick('coinbase', 0, 1)), undefined);
  t.is(agg.push(tick('coinbase', 97.5, 1)), undefined);
  t.deepEqual(agg.status(), []);
});

test('an older tick arriving late does not overwrite the newer price', (t) => {
  const agg = createAggregator({ ...opts, minSources: 1 });
  agg.push(tick('coinbase', 9_700_000, 2_000));
  t.is(agg.push(tick('coinbase', 9_600_000, 1_500))?.priceCents, 9_700_000);
});

test('medianCents averages the middle pair of an even count, rounding half up', (t) => {
  t.is(medianCents([3]), 3);
  t.is(medianCents([5, 1, 3]), 3);
  t.is(medianCents([1, 2]), 2);
  t.is(medianCents([4, 1, 2, 10]), 3);
});

test('status lists sources by name with their ages on the injected clock', (t) => {
  let now = 1_000;
  const agg = createAggregator({ ...opts, now: () => now });
  agg.push(tick('kraken', 9_700_000, 1_000));
  agg.push(tick('binance', 9_700_000, 900));
  now = 7_000;
  t.deepEqual(
    agg.status().map((s) => [s.source, s.ageMs, s.fresh]),
    [
      ['binance', 6_100, false],
      ['kraken', 6_000, false],
    ],
  );
});
