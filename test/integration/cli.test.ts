import BetterSqlite3 from 'better-sqlite3';
import path from 'node:path';
import test from 'ava';
import fs from 'node:fs';
import { formatIdentityFile, generateKeyPair } from '../../backup/crypto/index.js';
import { adminMovement } from '../../services/shared/accounts.js';
import { openDb } from '../../services/shared/db/database.js';
import { migrate } from '../../services/shared/db/migrate.js';
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

/**
 * Every command's error paths, table-driven (README "Admin CLI"): the exit status (0 ok, 1 the
 * operation failed, 2 bad usage or input, 78 invalid configuration; setup's own 10-15), the
 * stable code, and the two renderings: text (`tapstack: error: ... [code]` on stderr, nothing on
 * stdout) and `--json` (exactly one `{"ok":false,"error":{code,message,exitCode}}` document on
 * stdout, nothing on stderr). A few cases per ava test, so each test reports well within ava's
 * timeout on a loaded machine.
 */
interface ErrorCase {
  args: string[];
  exit: number;
  code: string;
  /** The code with --json, when adding the flag changes the error (a command without --json). */
  jsonCode?: string;
  env?: Record<string, string>;
}

/** `--json` before the first option (so it is never taken as an option's value), else last. */
const withJson = (args: string[]) => {
  const i = args.findIndex((a) => a.startsWith('-'));
  return i === -1 ? [...args, '--json'] : [...args.slice(0, i), '--json', ...args.slice(i)];
};

/** One data dir for the cases that need state: a migrated database with one account, keys, configs. */
function errorFixture() {
  const dir = tempDir();
  const db = openDb(path.join(dir, 'tapstack.db'), { synchronous: 'NORMAL' });
  migrate(db);
  adminMovement(db, { address: ALICE, direction: 'credit', amount: 2550, ref: 'deposit-1' }, Date.now());
  db.close();
  const target = path.join(dir, 'target');
  fs.mkdirSync(target);
  const configFile = path.join(dir, 'backup.json');
  fs.writeFileSync(configFile, JSON.stringify({ targets: [{ type: 'local', name: 'usb', path: target }] }));
  const badConfig = path.join(dir, 'bad-backup.json');
  fs.writeFileSync(badConfig, JSON.stringify({ targets: [{ type: 'ftp', name: 'f' }] }));
  const exists = path.join(dir, 'exists.key');
  fs.writeFileSync(exists, 'x');
  const pair = generateKeyPair();
  const keyFile = path.join(dir, 'id.key');
  fs.writeFileSync(keyFile, formatIdentityFile(pair.identity), { mode: 0o600 });
  const env = { TAPSTACK_DATA_DIR: dir, TAPSTACK_BACKUP_CONFIG_FILE: configFile, TAPSTACK_BACKUP_RECIPIENTS: pair.recipient };
  return { dir, env, badConfig, exists, keyFile };
}

function errorTests(title: string, env: Record<string, string>, cases: ErrorCase[], after?: (t: import('ava').ExecutionContext) => Promise<void>, per = 4) {
  for (let i = 0; i < cases.length; i += per) {
    const chunk = cases.slice(i, i + per);
    test(`error paths: ${title}: ${chunk.map((c) => c.code).join(', ')}`, async (t) => {
      for (const c of chunk) {
        const e = { ...env, ...c.env };
        const what = `${c.args.join(' ')} (${c.code})`;
        const text = await runCli(c.args, e);
        t.is(text.code, c.exit, `${what}: ${text.stderr}`);
        t.regex(text.stderr, new RegExp(`^tapstack: error: [^]*\\[${c.code}\\]\n$`, 'm'), what);
        t.is(text.stdout, '', `${what}: nothing on stdout`);
        const json = await runCli(withJson(c.args), e);
        t.is(json.code, c.exit, `${what} --json: ${json.stdout}${json.stderr}`);
        t.is(json.stderr, '', `${what} --json: nothing on stderr`);
        t.deepEqual(json.json && Object.keys(json.json), ['ok', 'error'], `${what} --json: one document: ${json.stdout}`);
        t.like(json.json, { ok: false, error: { code: c.jsonCode ?? c.code, exitCode: c.exit } }, what);
        t.true(typeof json.json?.error.message === 'string' && json.json.error.message.length > 0, what);
      }
      await after?.(t);
    });
  }
}

const fx = errorFixture();
const empty = tempDir();
const BOB = '0x71c7656ec7ab88b098defb751b7401b5f6d8976f';

errorTests('the command line itself (exit 2)', { TAPSTACK_DATA_DIR: empty }, [
  { args: [], exit: 2, code: 'usage', jsonCode: 'unknown-option' },
  { args: ['account'], exit: 2, code: 'usage', jsonCode: 'unknown-option' },
  { args: ['frobnicate'], exit: 2, code: 'unknown-command' },
  { args: ['migrate', '--bogus'], exit: 2, code: 'unknown-option' },
  { args: ['account', 'credit', alice, '1'], exit: 2, code: 'missing-option' },
  { args: ['account', 'credit', alice, '--ref', 'x'], exit: 2, code: 'missing-argument' },
  { args: ['account', 'show', alice, 'extra'], exit: 2, code: 'excess-arguments' },
  { args: ['ledger', 'query', '--limit'], exit: 2, code: 'missing-option-value' },
]);

errorTests('configuration (78), no database (1), setup (10-15)', { TAPSTACK_DATA_DIR: empty }, [
  { args: ['config', 'check'], exit: 78, code: 'invalid-config', env: { TAPSTACK_HTTP_PORT: 'x' } },
  { args: ['integrity', 'check'], exit: 78, code: 'invalid-config', env: { TAPSTACK_CURRENCY_DECIMALS: '12' } },
  { args: ['integrity', 'check'], exit: 1, code: 'no-database' },
  { args: ['migrate', '--status'], exit: 1, code: 'no-database' },
  { args: ['ledger', 'query'], exit: 1, code: 'no-database' },
  { args: ['account', 'show', alice], exit: 1, code: 'no-database' },
  { args: ['account', 'credit', alice, '1', '--ref', 'x'], exit: 1, code: 'no-database' },
  { args: ['setup'], exit: 10, code: 'data-dir-missing', env: { TAPSTACK_DATA_DIR: path.join(empty, 'missing') } },
]);

/** None of the refused movements may add a ledger row. */
const unchanged = async (t: import('ava').ExecutionContext) => {
  const rows = await runCli(['ledger', 'query', '--json'], fx.env);
  t.deepEqual(rows.json.map((r: { ref: string }) => r.ref), ['deposit-1'], 'nothing changed');
};

errorTests('account input (2) and refused movements (1)', fx.env, [
  { args: ['account', 'credit', '0x1234', '1', '--ref', 'a'], exit: 2, code: 'invalid-argument' },
  { args: ['account', 'credit', '0xAB5801a7D398351b8bE11C439e05C5B3259aeC9B', '1', '--ref', 'a'], exit: 2, code: 'invalid-argument' },
  { args: ['account', 'credit', alice, '1.234', '--ref', 'a'], exit: 2, code: 'invalid-argument' },
  { args: ['account', 'credit', alice, '0', '--ref', 'a'], exit: 2, code: 'invalid-amount' },
  { args: ['account', 'credit', alice, '1', '--ref', 'bet:1:stake'], exit: 2, code: 'invalid-ref' },
  { args: ['account', 'credit', alice, '1', '--ref', 'has space'], exit: 2, code: 'invalid-ref' },
  { args: ['account', 'debit', alice, '1', '--ref', 'sys:x'], exit: 2, code: 'invalid-ref' },
  { args: ['account', 'credit', alice, '1', '--ref', 'a', '--timeout', 'soon'], exit: 2, code: 'invalid-argument' },
  { args: ['account', 'credit', alice, '30', '--ref', 'deposit-1'], exit: 1, code: 'ref-conflict' },
  { args: ['account', 'debit', alice, '30', '--ref', 'wd-1'], exit: 1, code: 'insufficient-funds' },
  { args: ['account', 'debit', BOB, '1', '--ref', 'wd-2'], exit: 1, code: 'unknown-account' },
  { args: ['account', 'show', 'nobody'], exit: 2, code: 'invalid-argument' },
  { args: ['account', 'show', BOB], exit: 1, code: 'unknown-account' },
], unchanged);

errorTests('ledger and integrity input (2)', fx.env, [
  { args: ['ledger', 'query', '--since', 'yesterday-ish'], exit: 2, code: 'invalid-argument' },
  { args: ['ledger', 'query', '--limit', '0'], exit: 2, code: 'invalid-argument' },
  { args: ['ledger', 'query', '--after-seq', 'x'], exit: 2, code: 'invalid-argument' },
  { args: ['ledger', 'query', '--address', '0xzz'], exit: 2, code: 'invalid-argument' },
  { args: ['ledger', 'query', '--kind', 'bonus'], exit: 2, code: 'invalid-argument' },
  { args: ['integrity', 'check', '--max-problems', 'none'], exit: 2, code: 'invalid-argument' },
]);

errorTests('backup (78 configuration, 2 flags and keys, 1 failed operations)', fx.env, [
  { args: ['backup', 'create'], exit: 78, code: 'no-targets', env: { TAPSTACK_BACKUP_CONFIG_FILE: path.join(fx.dir, 'none.json') } },
  { args: ['backup', 'list', '--config', fx.badConfig], exit: 78, code: 'invalid-backup-config' },
  { args: ['backup', 'create'], exit: 78, code: 'no-recipients', env: { TAPSTACK_BACKUP_RECIPIENTS: '' } },
  { args: ['backup', 'create', '--kind', 'weekly'], exit: 2, code: 'invalid-argument' },
  { args: ['backup', 'create', '--wait', 'soon'], exit: 2, code: 'invalid-argument' },
  { args: ['backup', 'create', '--target', 'nope'], exit: 2, code: 'unknown-target' },
  { args: ['backup', 'verify'], exit: 2, code: 'no-identity' },
  { args: ['backup', 'verify', '--identity', path.join(fx.dir, 'no-such.key')], exit: 2, code: 'identity-unreadable' },
  { args: ['backup', 'verify', '--identity', fx.exists], exit: 2, code: 'bad-identity' },
  { args: ['backup', 'restore', '--at', 'yesterday-ish', '--identity', fx.keyFile], exit: 2, code: 'invalid-argument' },
  { args: ['backup', 'restore', '--identity', fx.keyFile], exit: 1, code: 'no-backup' },
  { args: ['backup', 'restore', '--backup', 'nope', '--identity', fx.keyFile], exit: 1, code: 'unknown-backup' },
  { args: ['backup', 'keygen', '--out', fx.exists], exit: 2, code: 'keygen-out' },
]);
