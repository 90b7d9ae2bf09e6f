import test from 'ava';
import { adminMovement, commitMovementLocked, demoGrantRequest, onSignIn } from '../../services/shared/accounts.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { ledgerRowHash } from '../../services/shared/ledger-hash.js';
import { ledgerHead, postMovement, queryLedger } from '../../services/shared/repos/ledger.repo.js';
import { findUser } from '../../services/shared/repos/users.repo.js';
import { freshDb } from '../helpers/env.js';

const ALICE = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B';
const BOB = '0x71C7656EC7ab88b098defB751B7401B5f6d8976F';

function seeded() {
  const env = freshDb();
  adminMovement(env.db, { address: ALICE, direction: 'credit', amount: 10_000, ref: 'dep-1' }, 1_000);
  adminMovement(env.db, { address: BOB, direction: 'credit', amount: 500, ref: 'dep-2' }, 2_000);
  adminMovement(env.db, { address: ALICE, direction: 'debit', amount: 2_500, ref: 'wd-1' }, 3_000);
  return env;
}

test('balances move only with their ledger rows and the chain links every row', (t) => {
  const { db } = seeded();
  t.is(findUser(db, ALICE)?.balance, 7_500);
  t.is(findUser(db, BOB)?.balance, 500);
  const rows = queryLedger(db, { limit: 10 });
  t.deepEqual(rows.map((r) => [r.seq, r.kind, r.amount, r.balanceAfter]), [
    [1, 'credit', 10_000, 10_000],
    [2, 'credit', 500, 500],
    [3, 'debit', -2_500, 7_500],
  ]);
  t.is(rows[0]?.prevHash, '0'.repeat(64));
  t.is(rows[1]?.prevHash, rows[0]?.hash);
  t.is(rows[2]?.prevHash, rows[1]?.hash);
  for (const r of rows) t.is(ledgerRowHash(r), r.hash);
  t.true(checkIntegrity(db).ok);
});

test('UPDATE and DELETE on the ledger are refused by the database itself', (t) => {
  const { db } = seeded();
  t.throws(() => db.raw.prepare('UPDATE ledger SET amount = 1 WHERE seq = 1').run(), { any: true, message: /append-only: UPDATE refused/ });
  t.throws(() => db.raw.prepare('DELETE FROM ledger WHERE seq = 1').run(), { any: true, message: /append-only: DELETE refused/ });
  t.throws(() => db.raw.prepare('DELETE FROM ledger').run(), { any: true, message: /append-only/ });
  t.is(queryLedger(db, { limit: 10 }).length, 3);
});

test('a row that does not extend the chain head, or disagrees with the balance, is refused', (t) => {
  const { db } = seeded();
  const head = ledgerHead(db);
  const insert = db.raw.prepare(
    'INSERT INTO ledger (seq, created_at, address, kind, amount, balance_after, ref, meta, prev_hash, hash) VALUES (?, 1, ?, ?, ?, ?, ?, NULL, ?, ?)',
  );
  // Forged row appended without touching the balance.
  t.throws(() => insert.run(head.seq + 1, BOB, 'credit', 100, 600, 'forged-1', head.hash, 'f'.repeat(64)), { any: true, message: /balance_after differs/ });
  // Forged row with a stale prev_hash (history rewrite).
  t.throws(() => insert.run(head.seq + 1, BOB, 'credit', 100, 500, 'forged-2', '0'.repeat(64), 'f'.repeat(64)), { any: true, message: /chain head/ });
  // Sign must match the kind.
  t.throws(() => insert.run(head.seq + 1, BOB, 'credit', -100, 500, 'forged-3', head.hash, 'f'.repeat(64)), { any: true, message: /sign/ });
  t.true(checkIntegrity(db).ok);
});

test('credits are idempotent on the ref; a different movement under a used ref is a conflict', (t) => {
  const { db } = freshDb();
  const first = adminMovement(db, { address: ALICE, direction: 'credit', amount: 1_000, ref: 'psp-42' }, 1);
  const again = adminMovement(db, { address: ALICE, direction: 'credit', amount: 1_000, ref: 'psp-42' }, 2);
  t.false(first.replayed);
  t.true(again.replayed);
  t.is(again.entry.seq, first.entry.seq);
  t.is(findUser(db, ALICE)?.balance, 1_000);
  t.throws(() => adminMovement(db, { address: ALICE, direction: 'credit', amount: 2_000, ref: 'psp-42' }, 3), { message: /already used/ });
  t.throws(() => adminMovement(db, { address: BOB, direction: 'credit', amount: 1_000, ref: 'psp-42' }, 3), { message: /already used/ });
  t.is(queryLedger(db, { limit: 10 }).length, 1);
});

test('a debit never takes a balance below zero and leaves no trace when refused', (t) => {
  const { db } = seeded();
  const err = t.throws(() => adminMovement(db, { address: BOB, direction: 'debit', amount: 501, ref: 'wd-big' }, 5));
  t.is((err as { code?: string }).code, 'insufficient-funds');
  t.is(findUser(db, BOB)?.balance, 500);
  t.is(queryLedger(db, { ref: 'wd-big', limit: 1 }).length, 0);
  const unknown = t.throws(() => adminMovement(db, { address: '0x0000000000000000000000000000000000000001', direction: 'debit', amount: 1, ref: 'wd-x' }, 5));
  t.is((unknown as { code?: string }).code, 'unknown-account');
  adminMovement(db, { address: BOB, direction: 'debit', amount: 500, ref: 'wd-all' }, 6);
  t.is(findUser(db, BOB)?.balance, 0);
  t.true(checkIntegrity(db).ok);
});

test('system refs are reserved and refs are validated', (t) => {
  const { db } = freshDb();
  for (const ref of ['bet:1:stake', 'demo:x', 'sys:fix', '', ' lead', 'a'.repeat(129), 'semi;colon']) {
    const err = t.throws(() => adminMovement(db, { address: ALICE, direction: 'credit', amount: 1, ref }, 1), undefined, ref);
    t.is((err as { code?: string }).code, 'invalid-ref');
  }
});

test('integrity check finds an amount altered behind the app\'s back, even with the balance fixed up', (t) => {
  const { db } = seeded();
  // An attacker with file access: drop the guard, rewrite history, restore the guard.
  db.raw.exec(`
    DROP TRIGGER ledger_no_update;
    UPDATE ledger SET amount = 20000, balance_after = 20000 WHERE seq = 1;
    UPDATE users SET balance = 17500 WHERE address = '${ALICE}';
    CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'ledger is append-only: UPDATE refused'); END;
  `);
  const r = checkIntegrity(db);
  t.false(r.ok);
  t.deepEqual(
    r.problems.map((p) => [p.type, p.seq]),
    [
      ['chain-hash-mismatch', 1],
      ['balance-after-mismatch', 3],
    ],
  );
});

test('integrity check finds a re-hashed row through the broken link to the next row', (t) => {
  const { db } = seeded();
  const row = queryLedger(db, { limit: 1 })[0]!;
  const forged = { ...row, amount: 99_999, balanceAfter: 99_999 };
  const hash = ledgerRowHash(forged);
  db.raw.exec('DROP TRIGGER ledger_no_update');
  db.raw.prepare('UPDATE ledger SET amount = ?, balance_after = ?, hash = ? WHERE seq = 1').run(99_999, 99_999, hash);
  const r = checkIntegrity(db);
  t.false(r.ok);
  const types = r.problems.map((p) => `${p.type}@${p.seq ?? p.address}`);
  t.true(types.includes('chain-broken-link@2'), types.join(', '));
  t.true(types.includes('trigger-missing@undefined') || r.problems.some((p) => p.type === 'trigger-missing'));
});

test('integrity check finds a balance changed without a ledger row', (t) => {
  const { db } = seeded();
  db.raw.prepare('UPDATE users SET balance = balance + 1 WHERE address = ?').run(BOB);
  const r = checkIntegrity(db);
  t.false(r.ok);
  t.is(r.problemCount, 1);
  t.like(r.problems[0], { type: 'balance-mismatch', address: BOB, expected: 500, actual: 501 });
});

test('sign-in creates the account and says a demo grant is due until the writer committed one', (t) => {
  const { db } = freshDb();
  const first = onSignIn(db, ALICE, { enabled: true, grant: 5_000 }, 1);
  t.true(first.created);
  t.true(first.grantDue);
  t.is(findUser(db, ALICE)?.balance, 0, 'sign-in itself moves no money');
  // The writer commits the grant (here: the locked path, as the writer would).
  commitMovementLocked(db, demoGrantRequest(ALICE, 5_000), 2);
  const again = commitMovementLocked(db, demoGrantRequest(ALICE, 5_000), 3);
  t.true(again.replayed, 'the ref demo:<address> grants once');
  const second = onSignIn(db, ALICE, { enabled: true, grant: 5_000 }, 4);
  t.false(second.created);
  t.false(second.grantDue);
  t.is(findUser(db, ALICE)?.balance, 5_000);
  t.deepEqual(queryLedger(db, { address: ALICE, limit: 10 }).map((r) => [r.kind, r.ref]), [['demo-grant', `demo:${ALICE}`]]);
  const off = onSignIn(db, BOB, { enabled: false, grant: 5_000 }, 5);
  t.false(off.grantDue);
  t.is(off.user.balance, 0);
});

test('postMovement outside the API refuses non-integer money', (t) => {
  const { db } = seeded();
  for (const amount of [0.5, Number.NaN, 0, Number.MAX_SAFE_INTEGER + 1]) {
    t.throws(() => db.write(() => postMovement(db, { address: ALICE, kind: 'credit', amount, ref: `x-${amount}` }, 1)), { message: /amount/ });
  }
});
