import test from 'ava';
import { randomHex } from '../../services/shared/random-hex.js';

test('randomHex gives lowercase hex of the asked length, never the same bytes twice across pool refills', (t) => {
  const seen = new Set<string>();
  // 8 bytes each: 4,000 draws go through the 4 KiB pool about eight times.
  for (let i = 0; i < 4000; i++) {
    const h = randomHex(8);
    t.regex(h, /^[0-9a-f]{16}$/);
    seen.add(h);
  }
  t.is(seen.size, 4000);
  t.regex(randomHex(256), /^[0-9a-f]{512}$/);
  t.regex(randomHex(1), /^[0-9a-f]{2}$/);
});

test('randomHex refuses a length outside 1-256', (t) => {
  for (const n of [0, -1, 257, 1.5, Number.NaN]) t.throws(() => randomHex(n), { instanceOf: RangeError });
});
