import test from 'ava';
import { priceCell, type PricingRule } from '../../services/shared/pricing/multiplier.js';

const RULE: PricingRule = { edge: 0.05, minCents: 101, maxCents: 100_000 };

test('floors to hundredths without float slips: 0.95/0.5 is 190, not 189', (t) => {
  t.deepEqual(priceCell(0.5, RULE), { multiplierCents: 190, disabled: false });
  t.is(priceCell(0.25, RULE).multiplierCents, 380);
  t.is(priceCell(0.2, RULE).multiplierCents, 475);
  t.is(priceCell(0.1, RULE).multiplierCents, 950);
  t.is(priceCell(0.38, RULE).multiplierCents, 250);
  t.is(priceCell(0.3, RULE).multiplierCents, 316); // 3.1666… floors, never rounds up
  t.is(priceCell(0.95 / 3, RULE).multiplierCents, 300);
  t.is(priceCell(0.5, { ...RULE, edge: 0 }).multiplierCents, 200);
  t.is(priceCell(0.5, { ...RULE, edge: 0.06 }).multiplierCents, 188);
});

test('every exact multiplier survives the round trip through its probability', (t) => {
  // p = (1 − e)/m computed in floating point must price back to m, for every m on offer, and a
  // probability a hair larger must price one hundredth lower.
  for (const edge of [0.05, 0.06, 0.055, 0.1]) {
    for (let m = RULE.minCents; m <= RULE.maxCents; m++) {
      const p = ((1 - edge) * 100) / m;
      const got = priceCell(p, { ...RULE, edge }).multiplierCents;
      if (got !== m) t.fail(`edge ${edge}, m ${m}: got ${got}`);
      const lower = priceCell(p * (1 + 1e-7), { ...RULE, edge }).multiplierCents;
      if (lower !== m - 1 && m > RULE.minCents) t.fail(`edge ${edge}, m ${m}: a larger p gave ${lower}`);
    }
  }
  t.pass();
});

test('the house always keeps at least its edge on an enabled cell', (t) => {
  for (let i = 1; i < 100_000; i++) {
    const p = i / 100_000;
    const c = priceCell(p, RULE);
    if (!c.disabled && p * c.multiplierCents > (1 - RULE.edge) * 100 * (1 + 1e-12)) t.fail(`p ${p}: ${c.multiplierCents}`);
    // …and gives away no more than one hundredth by flooring.
    if (!c.disabled && c.multiplierCents < RULE.maxCents && p * (c.multiplierCents + 1) <= (1 - RULE.edge) * 100) {
      t.fail(`p ${p}: ${c.multiplierCents} floors too far`);
    }
  }
  t.pass();
});

test('clamps to the cap; P ≤ 0 is priced at the cap and stays enabled', (t) => {
  t.deepEqual(priceCell(1e-6, RULE), { multiplierCents: 100_000, disabled: false });
  t.deepEqual(priceCell(0.95 / 1000, RULE), { multiplierCents: 100_000, disabled: false });
  t.is(priceCell(0.95 / 999.99, RULE).multiplierCents, 99_999);
  t.deepEqual(priceCell(0, RULE), { multiplierCents: 100_000, disabled: false });
  t.deepEqual(priceCell(-1e-18, RULE), { multiplierCents: 100_000, disabled: false });
  t.deepEqual(priceCell(Number.MIN_VALUE, RULE), { multiplierCents: 100_000, disabled: false });
});

test('disables a cell when even the minimum multiplier would give the player the edge', (t) => {
  // 0.95/0.95 = 1.00 < 1.01: clamping up to 1.01 would pay 0.9595 per unit staked.
  t.deepEqual(priceCell(0.95, RULE), { multiplierCents: 101, disabled: true, reason: 'player-edge' });
  t.deepEqual(priceCell(0.99, RULE), { multiplierCents: 101, disabled: true, reason: 'player-edge' });
  // At exactly P · m_min = 1 − e the house still keeps e: enabled.
  t.deepEqual(priceCell(0.95 / 1.01, RULE), { multiplierCents: 101, disabled: false });
  t.deepEqual(priceCell(0.94, RULE), { multiplierCents: 101, disabled: false });
  // The rule as DOMAIN.md states it, across the whole range.
  for (const minCents of [101, 105, 110]) {
    for (let i = 1; i < 10_000; i++) {
      const p = i / 10_000;
      const expect = p * minCents > (1 - RULE.edge) * 100;
      const boundary = Math.abs(p * minCents - (1 - RULE.edge) * 100) < 1e-9;
      if (!boundary && priceCell(p, { ...RULE, minCents }).disabled !== expect) t.fail(`p ${p}, min ${minCents}`);
    }
  }
});

test('a certain touch is disabled', (t) => {
  t.deepEqual(priceCell(1, RULE), { multiplierCents: 101, disabled: true, reason: 'certain' });
  // Probabilities are clamped upstream, but a caller's rounding must not sneak a payout through.
  t.true(priceCell(1 + 1e-15, RULE).disabled);
});

test('rejects malformed input', (t) => {
  const bad: [number, PricingRule][] = [
    [NaN, RULE],
    [Infinity, RULE],
    [0.5, { ...RULE, edge: -0.01 }],
    [0.5, { ...RULE, edge: 1 }],
    [0.5, { ...RULE, edge: NaN }],
    [0.5, { ...RULE, minCents: 0 }],
    [0.5, { ...RULE, minCents: 101.5 }],
    [0.5, { ...RULE, minCents: 200, maxCents: 150 }],
    [0.5, { ...RULE, maxCents: Infinity }],
  ];
  for (const [p, rule] of bad) t.throws(() => priceCell(p, rule), { instanceOf: RangeError }, `${p} ${JSON.stringify(rule)}`);
});
