import BetterSqlite3 from 'better-sqlite3';
import path from 'node:path';
import test from 'ava';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';

const ALICE = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B';
const alice = ALICE.toLowerCase();

function setup() {
  const dir = tempDir();
  return { dir, env: { TAPSTACK_DATA_DIR: dir }, file: path.join(dir, 'tapstack.db') };
}

test('help is available for every command', async (t) => {
  const { env } = setup();
  for (const args of [['--help'], ['account', '--help'], ['account', 'credit', '--help'], ['ledger', 'query', '--help'], ['integrity', 'check', '--help'], ['migrate', '--help']]) {
    const r = await runCli(args, env);
    t.is(r.code, 0, args.join(' '));
    t.regex(r.stdout, /Usage: tapstack/, args.join(' '));
  }
  const credit = await runCli(['account', 'credit', '--help'], env);
  t.regex(credit.stdout, /--ref <external-ref>/);
  const unknown = await runCli(['frobnicate'], env);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command/);
});

test('commands refuse to run without a database instead of creating one in the wrong place', async (t) => {
  const { env } = setup();
  const r = await runCli(['integrity', 'check'], env);
  t.is(r.code, 1);
  t.regex(r.stderr, /no database at .*tapstack\.db.*\[no-database\]/);
});

test('an operator credits, replays, debits and reads the ledger', async (t) => {
  const { env } = setup();
  t.regex((await runCli(['migrate'], env)).stdout, /applied migrations 1, 2, 3, 4/);
  t.regex((await runCli(['migrate'], env)).stdout, /nothing to do/);

  const credit = await runCli(['account', 'credit', alice, '25.50', '--ref', 'deposit-1', '--note', 'wire 7731'], env);
  t.is(credit.code, 0, credit.stderr);
  t.regex(credit.stdout, new RegExp(`credited 25.50 USD to ${ALICE}`));

  const replay = await runCli(['account', 'credit', alice, '25.50', '--ref', 'deposit-1', '--json'], env);
  t.is(replay.code, 0);
  t.like(replay.json, { applied: false, seq: 1, balance: 2550 });

  const conflict = await runCli(['account', 'credit', alice, '30', '--ref', 'deposit-1'], env);
  t.is(conflict.code, 1);
  t.regex(conflict.stderr, /\[ref-conflict\]/);

  const tooMuch = await runCli(['account', 'debit', ALICE, '30', '--ref', 'wd-1'], env);
  t.is(tooMuch.code, 1);
  t.regex(tooMuch.stderr, /insufficient funds: .* has 25.50 USD, cannot debit 30.00 USD; nothing changed \[insufficient-funds\]/);

  const debit = await runCli(['account', 'debit', ALICE, '20', '--ref', 'wd-2', '--json'], env);
  t.like(debit.json, { applied: true, seq: 2, kind: 'debit', amount: -2000, balance: 550 });

  const show = await runCli(['account', 'show', alice, '--json'], env);
  t.like(show.json, { address: ALICE, balance: 550 });

  const rows = await runCli(['ledger', 'query', '--address', alice, '--json'], env);
  t.deepEqual(rows.json.map((r: any) => [r.seq, r.kind, r.amount, r.ref]), [
    [1, 'credit', 2550, 'deposit-1'],
    [2, 'debit', -2000, 'wd-2'],
  ]);
  t.deepEqual(rows.json[0].meta.note, 'wire 7731');
  const byRef = await runCli(['ledger', 'query', '--ref', 'wd-2', '--json'], env);
  t.is(byRef.json.length, 1);
  const byKind = await runCli(['ledger', 'query', '--kind', 'credit', '--json'], env);
  t.deepEqual(byKind.json.map((r: any) => r.seq), [1]);
  const future = await runCli(['ledger', 'query', '--since', '2999-01-01', '--json'], env);
  t.deepEqual(future.json, []);
  const past = await runCli(['ledger', 'query', '--until', '2000-01-01T00:00:00Z'], env);
  t.regex(past.stdout, /no matching ledger rows/);
  const page = await runCli(['ledger', 'query', '--limit', '1'], env);
  t.regex(page.stdout, /continue with --after-seq 1/);
  const next = await runCli(['ledger', 'query', '--after-seq', '1', '--json'], env);
  t.deepEqual(next.json.map((r: any) => r.seq), [2]);
  const text = await runCli(['ledger', 'query'], env);
  t.regex(text.stdout, /seq\s+time\s+address\s+kind\s+amount\s+balance\s+ref/);
  t.regex(text.stdout, /-20\.00\s+5\.50\s+wd-2/);

  const ok = await runCli(['integrity', 'check'], env);
  t.is(ok.code, 0);
  t.regex(ok.stdout, /integrity OK: 2 ledger rows, 1 accounts/);
});

test('bad operator input is a usage error that changes nothing', async (t) => {
  const { env } = setup();
  await runCli(['migrate'], env);
  const cases: [string[], RegExp][] = [
    [['account', 'credit', alice, '1.234', '--ref', 'a'], /more than 2 decimal places/],
    [['account', 'credit', alice, '-5', '--ref', 'a'], /not an amount|unknown option/],
    [['account', 'credit', alice, '0', '--ref', 'a'], /greater than zero/],
    [['account', 'credit', '0xAB5801a7D398351b8bE11C439e05C5B3259aeC9B', '1', '--ref', 'a'], /wrong EIP-55 checksum/],
    [['account', 'credit', '0x1234', '1', '--ref', 'a'], /not an Ethereum address/],
    [['account', 'credit', alice, '1'], /required option '--ref/],
    [['ledger', 'query', '--since', 'yesterday-ish'], /not a time/],
    [['ledger', 'query', '--limit', '0'], /not a positive integer/],
    [['ledger', 'query', '--kind', 'bonus'], /unknown kind "bonus"/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, env);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
  }
  const reserved = await runCli(['account', 'credit', alice, '1', '--ref', 'bet:1:stake'], env);
  t.is(reserved.code, 2, 'a reserved ref is bad input');
  t.regex(reserved.stderr, /reserved for the system \[invalid-ref\]/);
  const rows = await runCli(['ledger', 'query', '--json'], env);
  t.deepEqual(rows.json, []);
});

test('integrity check reports a tampered row precisely and exits non-zero', async (t) => {
  const { env, file } = setup();
  await runCli(['migrate'], env);
  await runCli(['account', 'credit', alice, '100', '--ref', 'd1'], env);
  await runCli(['account', 'credit', alice, '5', '--ref', 'd2'], env);
  await runCli(['account', 'debit', alice, '50', '--ref', 'w1'], env);

  // Tamper with the file directly, as someone with shell access would.
  const raw = new BetterSqlite3(file);
  raw.exec("DROP TRIGGER ledger_no_update; UPDATE ledger SET amount = 900 WHERE seq = 2;");
  raw.close();

  const r = await runCli(['integrity', 'check'], env);
  t.is(r.code, 1);
  t.regex(r.stdout, /INTEGRITY CHECK FAILED/);
  t.regex(r.stdout, /\[trigger-missing\].*ledger_no_update/);
  t.regex(r.stdout, /\[chain-hash-mismatch\] row 2 .*credit 900 ref d2/);
  t.regex(r.stdout, /\[balance-mismatch\] 0xAb58.* has balance 5500 but its 3 ledger rows sum to 5900/);

  const json = await runCli(['integrity', 'check', '--json'], env);
  t.is(json.code, 1);
  t.false(json.json.ok);
  t.true(json.json.problems.some((p: any) => p.type === 'chain-hash-mismatch' && p.seq === 2));
});

test('concurrent debits from many processes never overdraw', async (t) => {
  const { env } = setup();
  await runCli(['migrate'], env);
  await runCli(['account', 'credit', alice, '5', '--ref', 'fund'], env);
  // 16 operators debit 1.00 each at the same moment; the balance covers exactly 5.
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => runCli(['account', 'debit', alice, '1', '--ref', `race-${i}`], env)));
  t.is(results.filter((r) => r.code === 0).length, 5, results.map((r) => r.stderr).join(''));
  t.true(results.filter((r) => r.code !== 0).every((r) => /insufficient-funds/.test(r.stderr)));
  const show = await runCli(['account', 'show', alice, '--json'], env);
  t.is(show.json.balance, 0);
  t.is((await runCli(['integrity', 'check'], env)).code, 0);

  // The same ref from several processes at once is applied exactly once.
  await runCli(['account', 'credit', alice, '10', '--ref', 'fund-2'], env);
  const same = await Promise.all(Array.from({ length: 6 }, () => runCli(['account', 'debit', alice, '3', '--ref', 'dup', '--json'], env)));
  t.is(same.filter((r) => r.json?.applied === true).length, 1);
  t.is(same.filter((r) => r.json?.applied === false).length, 5);
  t.is((await runCli(['account', 'show', alice, '--json'], env)).json.balance, 700);
});

test('a bad configuration is refused listing every bad variable', async (t) => {
  const r = await runCli(['integrity', 'check'], { TAPSTACK_DATA_DIR: tempDir(), TAPSTACK_HTTP_PORT: 'x', TAPSTACK_CURRENCY_DECIMALS: '12' });
  t.is(r.code, 78);
  t.regex(r.stderr, /TAPSTACK_HTTP_PORT/);
  t.regex(r.stderr, /TAPSTACK_CURRENCY_DECIMALS/);
});
