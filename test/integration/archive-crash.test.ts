/**
 * The archiver killed (SIGKILL, a crash point injected by ARCHIVER_TEST_CRASH_AT in a child
 * `tapstack archive run`) at every step and run again: nothing lost, nothing duplicated, nothing
 * deleted before the archive is verified remotely; and a corrupted or missing remote archive is
 * detected before deletion (the run fails, the rows stay) and after (`integrity check --archives`).
 */
import fs from 'node:fs';
import test from 'ava';
import { checkArchives } from '../../backup/archive/integrity.js';
import { fetchWeek } from '../../backup/archive/fetch.js';
import { archiveSetup } from '../../backup/archive/setup.js';
import { weekObjectKey } from '../../backup/archive/week-file.js';
import { loadConfig } from '../../services/shared/config.js';
import type { Db } from '../../services/shared/db/database.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { ARCHIVE_STEPS, archiveRun, isoWeekEnd, listAnchors, type ArchiveStep } from '../../services/shared/repos/archive.repo.js';
import { startS3rver, type TestS3 } from '../helpers/backup-servers.js';
import { runCli } from '../helpers/cli.js';
import { archiveRig, HOUR, s3rverObjectFile, seedWeek, WEEK, type ArchiveRig } from '../helpers/archive-fixture.js';

let s3: TestS3;
test.before(async () => {
  s3 = await startS3rver();
});
test.after.always(async () => {
  await s3?.stop();
});

const NOW = String(isoWeekEnd(WEEK) + 7 * HOUR);
const BETS = 2_000;
const count = (db: Db, sql: string) => (db.raw.prepare(sql).get() as { n: number }).n;
const stepIndex = (s: ArchiveStep | undefined) => (s === undefined ? -1 : ARCHIVE_STEPS.indexOf(s));

function archiveRunCli(rig: ArchiveRig, crashAt?: string, extra: Record<string, string> = {}) {
  return runCli(['archive', 'run', '--now', NOW, '--json'], { ...rig.env, ...extra, ...(crashAt ? { ARCHIVER_TEST_CRASH_AT: crashAt } : {}) });
}

test('killed at every step and run again, the archiver loses, duplicates and deletes early nothing', async (t) => {
  const rig = archiveRig(s3, { TAPSTACK_ARCHIVE_DELETE_BATCH: '500' });
  let db = rig.open();
  seedWeek(db, { week: WEEK, bets: BETS });
  const totalRows = checkIntegrity(db).rows;
  db.close();
  const points = ['planned', 'writing', 'written', 'uploading', 'uploaded', 'verified', 'anchored', 'deleting', 'deleted'];
  for (const point of points) {
    const r = await archiveRunCli(rig, point);
    t.not(r.code, 0, `killed at ${point}: ${r.stderr}`);
    db = rig.open();
    const run = archiveRun(db, WEEK);
    const report = checkIntegrity(db);
    t.true(report.ok, `after a kill at ${point}: ${JSON.stringify(report.problems.slice(0, 2))}`);
    const liveBets = count(db, 'SELECT COUNT(*) AS n FROM bets');
    if (stepIndex(run?.step) < stepIndex('anchored')) {
      t.is(liveBets, BETS, `nothing deleted before the anchor (killed at ${point}, step ${run?.step})`);
      t.is(report.rows, totalRows);
    }
    t.true(listAnchors(db).length <= 1);
    db.close();
  }
  const last = await archiveRunCli(rig);
  t.is(last.code, 0, last.stderr);
  db = rig.open();
  t.is(archiveRun(db, WEEK)?.step, 'done');
  t.is(count(db, 'SELECT COUNT(*) AS n FROM bets'), 0);
  t.is(listAnchors(db).length, 1, 'one anchor');
  t.is(listAnchors(db)[0]?.rowCount, totalRows, 'every ledger row archived once');
  const config = loadConfig(rig.env);
  const setup = archiveSetup(config);
  const objects = await setup.target.list('archive/');
  t.deepEqual(objects.map((o) => o.key), [weekObjectKey(WEEK)], 'one object, no leftovers');
  t.deepEqual(fs.readdirSync(rig.archiveDir).filter((f) => f !== 'archive.lock' && f !== '.tmp'), ['bets-2026-W40.db'], 'no temp or packed files left behind');
  const walk = await checkArchives(db, (a) => fetchWeek(a, config.archive.dir, setup.target, setup.decryption));
  t.true(walk.ok, JSON.stringify(walk.problems.slice(0, 3)));
  t.is(walk.rows, totalRows);
  const integrity = await runCli(['integrity', 'check', '--archives', '--json'], rig.env);
  t.is(integrity.code, 0, integrity.stdout);
  await setup.target.close?.();
  db.close();
});

test('a corrupted or missing remote archive is detected before anything is deleted, and afterwards by integrity check --archives', async (t) => {
  const rig = archiveRig(s3, { TAPSTACK_ARCHIVE_KEEP_LOCAL_WEEKS: '0' });
  let db = rig.open();
  seedWeek(db, { week: WEEK, bets: 1_500 });
  db.close();
  const key = weekObjectKey(WEEK);
  const corrupt = (file: string) => {
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff; // same size, one byte changed
    fs.writeFileSync(file, bytes);
  };

  // Before the anchor: the read-back finds a changed byte; the run fails and uploads again next time.
  t.not((await archiveRunCli(rig, 'uploaded')).code, 0);
  corrupt(s3rverObjectFile(s3, rig, key));
  const bad = await archiveRunCli(rig);
  t.is(bad.code, 1, bad.stdout + bad.stderr);
  t.like(bad.json?.weeks[0], { status: 'failed', code: 'archive-corrupt' });
  db = rig.open();
  t.is(count(db, 'SELECT COUNT(*) AS n FROM bets'), 1_500, 'nothing deleted');
  t.is(archiveRun(db, WEEK)?.step, 'written', 'it will be uploaded again');
  db.close();

  // After the anchor, right before deleting: the object vanished (or changed).
  t.not((await archiveRunCli(rig, 'anchored')).code, 0);
  const objectFile = s3rverObjectFile(s3, rig, key);
  const saved = fs.readFileSync(objectFile);
  fs.rmSync(objectFile);
  const missing = await archiveRunCli(rig);
  t.like(missing.json.weeks[0], { status: 'failed', code: 'archive-missing' });
  fs.writeFileSync(objectFile, Buffer.concat([saved.subarray(0, 10), Buffer.from('tampered'), saved.subarray(18)]));
  t.like((await archiveRunCli(rig)).json.weeks[0], { status: 'failed', code: 'archive-corrupt' });
  db = rig.open();
  t.is(count(db, 'SELECT COUNT(*) AS n FROM bets'), 1_500, 'still nothing deleted');
  t.true(checkIntegrity(db).ok);
  db.close();

  // The object is back: the week completes; no local copy is kept (KEEP_LOCAL_WEEKS=0).
  fs.writeFileSync(objectFile, saved);
  const done = await archiveRunCli(rig);
  t.is(done.code, 0, done.stdout + done.stderr);
  t.false(fs.existsSync(`${rig.archiveDir}/bets-2026-W40.db`));
  t.is((await runCli(['integrity', 'check', '--archives'], rig.env)).code, 0);

  // After deletion: a changed or vanished archive fails the walk across archives.
  corrupt(objectFile);
  const afterCorrupt = await runCli(['integrity', 'check', '--archives', '--json'], rig.env);
  t.is(afterCorrupt.code, 1);
  t.is(afterCorrupt.json.problems[0]?.type, 'archive-corrupt');
  fs.rmSync(objectFile);
  const afterMissing = await runCli(['integrity', 'check', '--archives', '--json'], rig.env);
  t.is(afterMissing.code, 1);
  t.is(afterMissing.json.problems[0]?.type, 'archive-missing');
  // The live check alone still passes: the anchor and the carried-forward sums prove the balances.
  t.is((await runCli(['integrity', 'check'], rig.env)).code, 0);
});
