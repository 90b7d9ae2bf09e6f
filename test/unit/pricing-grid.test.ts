import test from 'ava';
import { buildGrid, type GridCell, type GridGeometry, type GridInput } from '../../services/shared/pricing/grid.js';
import { priceCell, type PricingRule } from '../../services/shared/pricing/multiplier.js';
import { touchProbability } from '../../services/shared/pricing/touch.js';
import { annualToPerSecond } from '../../services/shared/pricing/volatility.js';

const GEOMETRY: GridGeometry = { rows: 12, rowHeightCents: 1_000, columns: 8, columnSeconds: 5, lockSeconds: 5 };
const RULE: PricingRule = { edge: 0.05, minCents: 101, maxCents: 100_000 };
const SIGMA = annualToPerSecond(0.5);
const T0 = 1_700_000_000_000; // a multiple of 5 s
const INPUT: GridInput = { spotCents: 10_000_437, sigma: SIGMA, nowMs: T0 + 1_234, geometry: GEOMETRY, rule: RULE };

const key = (c: GridCell) => `${c.lowCents}-${c.highCents}@${c.startMs}-${c.endMs}`;

test('bands are aligned to the row height and centred on the spot band, highest first', (t) => {
  const { cells } = buildGrid(INPUT);
  t.is(cells.length, 12 * 8);
  const spotBand = Math.floor(INPUT.spotCents / 1_000) * 1_000; // 10_000_000
  const lows = [...new Set(cells.map((c) => c.lowCents))];
  t.is(lows.length, 12);
  for (const c of cells) {
    t.is(c.lowCents % 1_000, 0);
    t.is(c.highCents, c.lowCents + 1_000);
    t.is(c.lowCents, spotBand + (6 - c.row) * 1_000, 'row 0 on top; an even row count puts the extra band above');
  }
  t.is(Math.min(...lows), spotBand - 5 * 1_000);
  t.is(Math.max(...lows), spotBand + 6 * 1_000);
  t.deepEqual(
    cells.map((c) => [c.row, c.col]),
    cells.map((_, i) => [Math.floor(i / 8), i % 8]),
    'row-major order',
  );
  const odd = buildGrid({ ...INPUT, geometry: { ...GEOMETRY, rows: 5 } }).cells.map((c) => c.lowCents);
  t.is(Math.min(...odd), spotBand - 2_000);
  t.is(Math.max(...odd), spotBand + 2_000);
});

test('columns are aligned to the wall clock, starting with the first window not yet open', (t) => {
  const { cells } = buildGrid(INPUT);
  const starts = [...new Set(cells.map((c) => c.startMs))];
  t.deepEqual(starts, [...Array(8).keys()].map((i) => T0 + 5_000 * (i + 1)));
  for (const c of cells) {
    t.is(c.endMs - c.startMs, 5_000);
    t.is(c.col, (c.startMs - (T0 + 5_000)) / 5_000);
  }
  // On a boundary, the window opening now is the first one.
  const onBoundary = buildGrid({ ...INPUT, nowMs: T0 + 10_000 }).cells;
  t.is(Math.min(...onBoundary.map((c) => c.startMs)), T0 + 10_000);
});

test('a re-quote 250 ms later keeps every cell where it was', (t) => {
  const first = buildGrid(INPUT).cells;
  const again = buildGrid({ ...INPUT, nowMs: INPUT.nowMs + 250, spotCents: INPUT.spotCents + 37 }).cells;
  t.deepEqual(again.map(key), first.map(key));
  t.deepEqual(again.map((c) => [c.row, c.col]), first.map((c) => [c.row, c.col]));
  // The probabilities move a little with time and spot; the cells do not.
  t.notDeepEqual(again.map((c) => c.probability), first.map((c) => c.probability));

  // Crossing a window boundary drops the window that opened and adds one at the end; crossing a
  // band boundary shifts the rows. Cells present in both quotes are the same cells.
  const later = buildGrid({ ...INPUT, nowMs: T0 + 4_900 }).cells;
  const shifted = buildGrid({ ...INPUT, nowMs: T0 + 5_150, spotCents: 9_999_990 }).cells;
  const laterKeys = new Set(later.map(key));
  const common = shifted.filter((c) => laterKeys.has(key(c)));
  t.is(common.length, 11 * 7);
  t.false(shifted.some((c) => c.startMs === T0 + 5_000));
});

test('cells starting within the lock period are locked but still priced', (t) => {
  const { cells } = buildGrid(INPUT); // now = T0 + 1.234 s, lock 5 s: the window at T0 + 5 s is locked
  for (const c of cells) {
    t.is(c.locked, c.startMs < INPUT.nowMs + 5_000);
    t.true(c.probability >= 0 && c.probability <= 1);
  }
  t.true(cells.filter((c) => c.col === 0).every((c) => c.locked));
  t.true(cells.filter((c) => c.col > 0).every((c) => !c.locked));

  const longLock = buildGrid({ ...INPUT, geometry: { ...GEOMETRY, lockSeconds: 14 } }).cells; // until T0 + 15.234 s
  t.deepEqual([...new Set(longLock.filter((c) => c.locked).map((c) => c.col))], [0, 1, 2]);
  const noLock = buildGrid({ ...INPUT, nowMs: T0, geometry: { ...GEOMETRY, lockSeconds: 0 } }).cells;
  t.true(noLock.every((c) => !c.locked), 'a window opening exactly now is not locked at lock 0');
  // …but with the spot inside its band at t1 = 0 the touch is certain, so pricing refuses it.
  const spotCell = noLock.find((c) => c.col === 0 && c.lowCents <= INPUT.spotCents && INPUT.spotCents <= c.highCents);
  t.like(spotCell, { probability: 1, disabled: true, reason: 'certain' });
});

test('every multiplier can be recomputed from the published spot, σ, edge and cell', (t) => {
  for (const monitoringDt of [0, 0.5]) {
    const input: GridInput = { ...INPUT, monitoringDt };
    // What an auditor sees: the quote's JSON, not our objects.
    const published = JSON.parse(JSON.stringify({ ...input, ...buildGrid(input) })) as GridInput & { cells: GridCell[] };
    for (const c of published.cells) {
      const probability = touchProbability({
        spot: published.spotCents,
        low: c.lowCents,
        high: c.highCents,
        t1: (c.startMs - published.nowMs) / 1000,
        t2: (c.endMs - published.nowMs) / 1000,
        sigma: published.sigma,
        monitoringDt: published.monitoringDt ?? 0,
      });
      t.is(probability, c.probability);
      const price = priceCell(probability, published.rule);
      t.is(price.multiplierCents, c.multiplierCents);
      t.is(price.disabled, c.disabled);
      t.is(price.reason, c.reason);
    }
  }
});

test('prices look like a tap grid: cheap near the spot, capped far away', (t) => {
  const { cells } = buildGrid(INPUT);
  const at = (row: number, col: number) => cells.find((c) => c.row === row && c.col === col)!;
  t.true(at(6, 0).multiplierCents < 200, 'the spot band soon is likely');
  t.true(at(0, 0).multiplierCents > at(0, 7).multiplierCents, 'far bands get likelier with time');
  t.true(at(6, 7).multiplierCents > at(6, 0).multiplierCents, 'the spot band gets less likely with time');
  for (let row = 0; row < 6; row++) t.true(at(row, 3).multiplierCents >= at(row + 1, 3).multiplierCents);
  const tiny = buildGrid({ ...INPUT, sigma: annualToPerSecond(0.05) }).cells;
  t.true(tiny.some((c) => c.multiplierCents === RULE.maxCents && !c.disabled));
});

test('a 12×8 grid prices in well under 5 ms', (t) => {
  for (let i = 0; i < 20; i++) buildGrid({ ...INPUT, nowMs: INPUT.nowMs + i }); // warm up the JIT
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const start = process.hrtime.bigint();
    buildGrid({ ...INPUT, nowMs: INPUT.nowMs + i * 37, monitoringDt: i % 2 ? 0.3 : 0 });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[25]!;
  t.log(`median ${median.toFixed(3)} ms, min ${times[0]!.toFixed(3)} ms`);
  t.true(median < 5);
});

test('rejects malformed geometry and inputs', (t) => {
  const bad: Partial<GridInput>[] = [
    { spotCents: 0 },
    { spotCents: 100.5 },
    { nowMs: NaN },
    { sigma: 0 },
    { geometry: { ...GEOMETRY, rows: 0 } },
    { geometry: { ...GEOMETRY, rowHeightCents: 2.5 } },
    { geometry: { ...GEOMETRY, columns: -1 } },
    { geometry: { ...GEOMETRY, columnSeconds: 0 } },
    { geometry: { ...GEOMETRY, columnSeconds: 0.0001 } },
    { geometry: { ...GEOMETRY, lockSeconds: -1 } },
    { spotCents: 3_000, geometry: { ...GEOMETRY, rowHeightCents: 1_000 } }, // bands at or below $0
  ];
  for (const b of bad) t.throws(() => buildGrid({ ...INPUT, ...b }), { instanceOf: RangeError }, JSON.stringify(b));
});
