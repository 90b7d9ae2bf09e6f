/** The bench's median-of-N table (bench/headline.ts) and the nginx limit lifting (bench/edge.ts). */
import fs from 'node:fs';
import test from 'ava';
import { liftPerIpLimits, LIFTED } from '../../bench/edge.js';
import { medianTable, type Headline } from '../../bench/headline.js';
import { spread } from '../../bench/stats.js';

test('spread: median of an odd and an even count, min and max, non-finite values ignored', (t) => {
  t.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  t.deepEqual(spread([10, 40, 20, 30]), { median: 25, min: 10, max: 40, n: 4 });
  t.deepEqual(spread([5, Number.NaN, Infinity, 7, 6]), { median: 6, min: 5, max: 7, n: 3 });
  t.true(Number.isNaN(spread([Number.NaN]).median));
  t.is(spread([]).n, 0);
});

const run = (bareKoa: number, satCommitted: number, relConfirmP99: number, ok = true): Headline => ({
  bareKoa,
  bareKoaUs: 100,
  satAccepted: satCommitted + 100,
  satCommitted,
  share: satCommitted / bareKoa,
  cpuPerBetUs: 300,
  relRate: satCommitted / 2,
  relAcceptP99: 10,
  relConfirmP99,
  relWriterLagP99: 15,
  relBusy: 80 + relConfirmP99 / 10,
  relWaiting: 10 * relConfirmP99,
  relSteal: 3,
  fixedCommitted: 3000,
  fixedAcceptP99: 20,
  fixedConfirmP99: 40,
  edgeSatAccepted: Number.NaN,
  edgeCpuPerBetUs: Number.NaN,
  edgeNginxUs: Number.NaN,
  edgeAcceptP99: Number.NaN,
  edgeConfirmP99: Number.NaN,
  accountingOk: ok,
  relativeShare: 0.5,
  fixedRate: 3000,
});

test('medianTable: median and min–max per figure, ratio to each run\'s own ceiling, runs meeting the target', (t) => {
  const text = medianTable([run(10_000, 4_000, 20), run(12_000, 6_000, 30), run(8_000, 2_000, 22)]);
  const line = (label: RegExp) => text.split('\n').find((l) => label.test(l)) ?? '';
  t.regex(line(/^bare koa/), /10,000\/s\s+8,000 – 12,000\s+10,000 \/ 12,000 \/ 8,000/);
  // committed: median 4,000; ratios 40 %, 50 %, 25 % -> median 40 %.
  t.regex(line(/^\s+committed/), /4,000\/s\s+2,000 – 6,000.*\s40 %/);
  // share 0.40, 0.50, 0.25: two of three meet ≥ 0.4.
  t.regex(line(/share of the ceiling/), /0\.40\s+0\.25 – 0\.50.*≥ 0\.4\s+2\/3 MISS/);
  t.regex(line(/CPU per bet, API \+ Redis \+ writer$|CPU per bet, API \+ Redis \+ writer\s/), /300 µs.*3\.0 ×.*≤ 350 µs\s+3\/3 PASS/);
  // tap → confirmed p99 at the relative rate: 20, 30, 22 -> median 22, one run over 25 ms.
  t.regex(text, /open loop at 0\.5 × saturated committed: rate/);
  t.regex(line(/tap → bet:confirmed p99\s+22/), /22\.0 ms\s+20\.0 – 30\.0.*≤ 25 ms\s+2\/3 MISS/);
  // The contention behind the tail: machine busy 82, 83, 82.2 %; run-queue wait 200, 300, 220 %.
  t.regex(line(/machine busy/), /82 %\s+82 – 83\s+82 \/ 83 \/ 82\s*$/);
  t.regex(line(/waiting for a CPU/), /220 %\s+200 – 300\s+200 \/ 300 \/ 220\s*$/);
  t.false(/through nginx/.test(text), 'figures no run has are left out');
  t.regex(line(/^accounting/), /OK \/ OK \/ OK.*3\/3 PASS/);
  t.regex(medianTable([run(10_000, 4_000, 20), run(10_000, 4_000, 20, false)]), /OK \/ FAILED.*1\/2 FAIL/);
});

test('liftPerIpLimits: every per-IP limit of the nginx template is lifted, nothing else changes', (t) => {
  const template = fs.readFileSync('nginx/nginx.conf.template', 'utf8');
  const { conf, changes } = liftPerIpLimits(template);
  t.notRegex(conf, /rate=(?!1000000r\/s)\d+r\/s/);
  t.notRegex(conf, /burst=(?!1000000\b)\d+/);
  t.notRegex(conf, new RegExp(`^\\s*limit_conn\\s+\\w+\\s+(?!${LIFTED.conn};)\\d+;`, 'm'));
  t.true(changes.some((c) => c.includes('tapstack_api: rate=50r/s')), changes.join('\n'));
  t.true(changes.some((c) => c.includes('tapstack_ws: 10 →')), changes.join('\n'));
  const before = template.split('\n');
  const after = conf.split('\n');
  t.is(after.length, before.length);
  const changed = before.filter((l, i) => l !== after[i]);
  t.is(changed.length, changes.length);
  t.true(changed.every((l) => /limit_req_zone|limit_req |limit_conn /.test(l)), changed.join('\n'));
  t.throws(() => liftPerIpLimits('http {}\n'), { message: /no per-IP/ });
});
