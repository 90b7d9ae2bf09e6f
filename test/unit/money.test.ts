import test from 'ava';
import { formatAmount, parseAmount } from '../../services/shared/money.js';

test('parseAmount converts decimal text to exact minor units', (t) => {
  t.is(parseAmount('12', 2), 1200);
  t.is(parseAmount('12.5', 2), 1250);
  t.is(parseAmount('0.01', 2), 1);
  t.is(parseAmount('0.1', 8), 10_000_000);
  t.is(parseAmount('7', 0), 7);
  // 0.1 + 0.2 style float drift cannot happen: the conversion is on digits.
  t.is(parseAmount('1234567.89', 2), 123456789);
});

test('parseAmount rejects signs, exponents, excess precision and overflow', (t) => {
  for (const bad of ['-1', '+1', '1e3', '1.', '.5', 'abc', '', '1,5', '0x10']) {
    t.throws(() => parseAmount(bad, 2), undefined, bad);
  }
  t.throws(() => parseAmount('1.234', 2), { message: /more than 2 decimal places/ });
  t.throws(() => parseAmount('1.5', 0), { message: /more than 0 decimal places/ });
  t.throws(() => parseAmount('99999999999999999999', 2), { message: /too large/ });
});

test('formatAmount renders minor units with the currency decimals', (t) => {
  t.is(formatAmount(1250, 2), '12.50');
  t.is(formatAmount(1, 2), '0.01');
  t.is(formatAmount(0, 2), '0.00');
  t.is(formatAmount(-2000, 2), '-20.00');
  t.is(formatAmount(5, 0), '5');
  t.throws(() => formatAmount(1.5, 2));
});

test('parse and format round-trip', (t) => {
  for (const s of ['0.00', '1.00', '12.34', '100000.07']) t.is(formatAmount(parseAmount(s, 2), 2), s);
});
