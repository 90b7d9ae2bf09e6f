/**
 * Weekly archival against real SQLite and s3rver (issue 14): a synthetic closed week of 20,000
 * bets (injected time) moves to an encrypted, compressed week file in S3 and leaves the primary
 * file; the ledger stays provable and queryable across the archive.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { runArchiver } from '../../backup/archive/archiver.js';
import { fetchWeek } from '../../backup/archive/fetch.js';
import { checkArchives } from '../../backup/archive/integrity.js';
import { localWeekFile } from '../../backup/archive/local.js';
import { createArchiveMetrics, refreshArchiveMetrics } from '../../backup/archive/metrics.js';
import { queryLedgerWithArchives } from '../../backup/archive/query.js';
import { archiveSetup } from '../../backup/archive/setup.js';
import { loadConfig } from '../../services/shared/config.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { createLogger } from '../../services/shared/logger.js';
import { archiveRun, isoWeekEnd, listAnchors, weekLabel } from '../../services/shared/repos/archive.repo.js';
import { getBet, settleBet } from '../../services/shared/repos/bets.repo.js';
import { findByRef, postMovement, queryLedger } from '../../services/shared/repos/ledger.repo.js';
import { startS3rver, type TestS3 } from '../helpers/backup-servers.js';
import { accounts, archiveRig, HOUR, seedWeek, WEEK, type ArchiveRig } from '../helpers/archive-fixture.js';
import { migrate } from '../../services/shared/db/migrate.js';
import { MIGRATIONS } from '../../services/shared/db/migrations/index.js';
import { ensureUser } from '../../services/shared/repos/users.repo.js';
import { openDb } from '../../services/shared/db/database.js';
import { archivedHistory, findArchivedBet, listBetsAcrossArchives } from '../../services/shared/archived-history.js';
import { listBets } from '../../services/shared/repos/bets.repo.js';

let s3: TestS3;
test.before(async () => {
  s3 = await startS3rver();
});
test.after.always(async () => {
  await s3?.stop();
});

const log = createLogger({ service: 'archive-test', level: 'silent' });
const AFTER_CLOSE = isoWeekEnd(WEEK) + 7 * HOUR;

function archiverFor(rig: ArchiveRig, db: ReturnType<ArchiveRig['open']>, now = AFTER_CLOSE) {
  const config = loadConfig(rig.env);
  const setup = archiveSetup(config);
  const run = () => runArchiver({ db, target: setup.target, encryption: setup.encryption, dir: config.archive.dir, keepLocalWeeks: config.archive.keepLocalWeeks, graceMs: config.archive.graceMs, deleteBatch: config.archive.deleteBatch, log, now: () => now });
  return { config, setup, run };
}

const fileBytes = (f: string) => fs.statSync(f).size + (fs.existsSync(`${f}-wal`) ? fs.statSync(`${f}-wal`).size : 0);

test('a closed week of 20,000 bets is archived to S3: the primary file shrinks, the chain and every balance verify across the archive, and a query finds the same row', async (t) => {
  const rig = archiveRig(s3);
  const db = rig.open();
  seedWeek(db, { week: WEEK, bets: 20_000 });
  seedWeek(db, { week: WEEK + 1, bets: 300, open: 20 }); // the current week: stays hot
  db.checkpoint();
  const before = checkIntegrity(db);
  t.true(before.ok, JSON.stringify(before.problems.slice(0, 3)));
  const sizeBefore = fileBytes(rig.dbFile);
  const ref = 'bet:w202640-b12345:stake';
  const rowBefore = findByRef(db, ref);
  const betBefore = getBet(db, 'w202640-b12345');
  const addressRows = queryLedger(db, { address: rowBefore?.address as string, limit: 100_000 }).length;
  const historyBefore = listBets(db, betBefore?.address as string, { limit: 100_000 });

  const { setup, run, config } = archiverFor(rig, db);
  const started = Date.now();
  const result = await run();
  const ms = Date.now() - started;
  t.like(result.weeks[0], { week: weekLabel(WEEK), status: 'archived', bets: 20_000 });
  t.like(result.weeks[1], { week: weekLabel(WEEK + 1), status: 'kept-local', reason: 'not-closed' });
  t.log(`archived 20,000 bets (${archiveRun(db, WEEK)?.rowCount} ledger rows) in ${ms} ms; week file ${archiveRun(db, WEEK)?.plainBytes} B, archive ${archiveRun(db, WEEK)?.archiveBytes} B; primary ${sizeBefore} → ${fileBytes(rig.dbFile)} B`);

  // The primary file shrank and holds only the current week.
  t.true(fileBytes(rig.dbFile) < sizeBefore * 0.3, `${fileBytes(rig.dbFile)} vs ${sizeBefore}`);
  t.is((db.raw.prepare('SELECT COUNT(*) AS n FROM bets WHERE week = ?').get(WEEK) as { n: number }).n, 0);
  t.is((db.raw.prepare('SELECT COUNT(*) AS n FROM bets WHERE week = ?').get(WEEK + 1) as { n: number }).n, 300);
  const after = checkIntegrity(db);
  t.true(after.ok, JSON.stringify(after.problems.slice(0, 3)));
  t.deepEqual(after.head, before.head, 'the chain head is unchanged');
  const [anchor] = listAnchors(db);
  t.is(anchor?.rowCount, before.rows - (before.head.seq - (anchor?.lastSeq ?? 0)));
  t.is(queryLedger(db, { limit: 1 })[0]?.prevHash, anchor?.lastHash, 'the first live row links to the anchor');

  // Money still moves after archival and extends the chain.
  db.write(() => postMovement(db, { address: rowBefore?.address as string, kind: 'credit', amount: 5, ref: 'after-archive' }, AFTER_CLOSE));
  t.true(checkIntegrity(db).ok);

  // Genesis → archive → live, with the local file and then fetched back from S3.
  const walk = await checkArchives(db, async (a) => localWeekFile(config.archive.dir, a.week) as string);
  t.true(walk.ok, JSON.stringify(walk.problems.slice(0, 3)));
  t.is(walk.rows, before.rows + 1);
  const { rows, searchedWeeks } = queryLedgerWithArchives(db, config.archive.dir, { ref, limit: 10 });
  t.deepEqual(rows, [rowBefore]);
  t.deepEqual(searchedWeeks, [weekLabel(WEEK)]);
  const byAddress = queryLedgerWithArchives(db, config.archive.dir, { address: rowBefore?.address as string, limit: 100_000 });
  t.is(byAddress.rows.length, addressRows + 1, 'every row of the account: archived week, live week, the new credit');
  t.true(byAddress.rows.every((r, i, all) => i === 0 || (all[i - 1] as { seq: number }).seq < r.seq));
  const local = localWeekFile(config.archive.dir, WEEK) as string;
  const wk = openDb(local, { readonly: true });
  t.deepEqual(getBet(wk, 'w202640-b12345'), betBefore, 'the archived bet row is the same row');
  wk.close();
  t.is(fs.statSync(local).mode & 0o222, 0, 'the local week file is read-only');
  // A player's history: the same bets, newest first, across the primary file and the local week.
  t.deepEqual(listBetsAcrossArchives(db, config.archive.dir, betBefore?.address as string, { limit: 100_000 }), historyBefore);
  t.is(listBets(db, betBefore?.address as string, { limit: 100_000 }).length, 6, 'only the current week is live');
  t.deepEqual(archivedHistory(db, config.archive.dir), { archivedBefore: new Date(isoWeekEnd(WEEK)).toISOString(), remoteBefore: null });

  // One bet by id: from the local week file; once only the archive target has the week, `remote`
  // (GET /api/bets/:id answers bet-archived) for an id placed before that week ended.
  t.deepEqual(findArchivedBet(db, config.archive.dir, 'w202640-b12345'), betBefore);
  fs.rmSync(local, { force: true });
  t.is(findArchivedBet(db, config.archive.dir, 'w202640-b12345'), 'remote');
  const idAt = (ms: number) => `b${ms.toString(36)}${'0'.repeat(16)}`;
  t.is(findArchivedBet(db, config.archive.dir, idAt(isoWeekEnd(WEEK) - 60_000)), 'remote');
  t.is(findArchivedBet(db, config.archive.dir, idAt(isoWeekEnd(WEEK) + 60_000)), undefined, 'placed after the archived week: no such bet');
  const fetched = await checkArchives(db, (a) => fetchWeek(a, config.archive.dir, setup.target, setup.decryption));
  t.true(fetched.ok, JSON.stringify(fetched.problems.slice(0, 3)));
  t.truthy(localWeekFile(config.archive.dir, WEEK), 'fetched back');

  // The dead man's switch.
  const metrics = createArchiveMetrics();
  refreshArchiveMetrics(metrics, db);
  const text = await metrics.registry.metrics();
  t.regex(text, new RegExp(`tapstack_archive_last_success_timestamp_seconds\\{service="archiver"\\} ${Math.floor(AFTER_CLOSE / 1000)}`));
  t.regex(text, /tapstack_archive_bets\{service="archiver"\} 20000/);
  await setup.target.close?.();
  db.close();
});

test('an open bet in a closed week keeps the whole week in the primary file until it is settled', async (t) => {
  const rig = archiveRig(s3);
  const db = rig.open();
  const ids = seedWeek(db, { week: WEEK, bets: 2_000, open: 1 });
  const { setup, run } = archiverFor(rig, db);
  const first = await run();
  t.like(first.weeks[0], { week: weekLabel(WEEK), status: 'kept-local', reason: 'open-bets', openBets: 1 });
  t.is((db.raw.prepare('SELECT COUNT(*) AS n FROM bets').get() as { n: number }).n, 2_000);
  t.is(listAnchors(db).length, 0);
  t.deepEqual(await setup.target.list('archive/'), []);

  db.write(() => settleBet(db, ids.at(-1) as string, { state: 'lost', payout: 0, reason: 'not-touched', at: AFTER_CLOSE, by: '1-0' }));
  const second = await run();
  t.like(second.weeks[0], { status: 'archived', bets: 2_000 });
  t.true(checkIntegrity(db).ok);
  // Every live row left: the chain goes on from the anchor.
  t.is(queryLedger(db, { limit: 1 }).length, 0);
  const a = seedWeek(db, { week: WEEK + 1, bets: 10, prefix: 'next' });
  t.is(a.length, 10);
  t.true(checkIntegrity(db).ok);
  t.is(queryLedger(db, { limit: 1 })[0]?.prevHash, listAnchors(db)[0]?.lastHash);
  await setup.target.close?.();
  db.close();
});

test('a file from before the archive migrations (a backup drilled before it is migrated) still passes the integrity check', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-archive-old-'));
  const db = openDb(path.join(dir, 'old.db'), { synchronous: 'NORMAL' });
  migrate(db, MIGRATIONS.slice(0, 5));
  const [a] = accounts(1);
  db.write(() => {
    ensureUser(db, a as string, 1);
    postMovement(db, { address: a as string, kind: 'credit', amount: 7, ref: 'old' }, 1);
  });
  const r = checkIntegrity(db);
  t.true(r.ok, JSON.stringify(r.problems));
  t.is(r.rows, 1);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
