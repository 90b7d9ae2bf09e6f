/**
 * The restore drill catches what a hash cannot: a backup that is byte-for-byte what was uploaded
 * but of a database that was already damaged — a corrupt page (PRAGMA integrity_check) or an
 * altered ledger row (hash chain) — and restore refuses to swap such a copy in.
 */
import fs from 'node:fs';
import test from 'ava';
import BetterSqlite3 from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { localTarget, makeAppliance } from './backup-helpers.js';

async function backupOf(mutate: (dbFile: string) => void) {
  const app = makeAppliance({ targets: [], rows: 400 });
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [localTarget(app.root)] }));
  mutate(app.dbFile);
  const created = await runCli(['backup', 'create', '--json'], app.env);
  if (created.code !== 0) throw new Error(created.stdout + created.stderr);
  return { app, created: created.json };
}

test('the drill catches a corrupted database page, and restore refuses it', async (t) => {
  const { app, created } = await backupOf((dbFile) => {
    const db = new BetterSqlite3(dbFile);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const page = (db.prepare("SELECT pageno FROM dbstat WHERE name = 'ledger_created_at' AND pagetype = 'leaf' LIMIT 1").get() as { pageno: number }).pageno;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const fd = fs.openSync(dbFile, 'r+');
    fs.writeSync(fd, Buffer.alloc(pageSize - 200, 0x5a), 0, pageSize - 200, (page - 1) * pageSize + 100);
    fs.closeSync(fd);
  });
  t.is(created.targets[0].status, 'created', 'a damaged database is still backed up (it may be all there is)');
  const before = fs.readFileSync(app.dbFile);
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.code, 1);
  const record = verified.json.targets[0].record;
  t.false(record.ok);
  t.is(record.level, 'drill');
  t.true(record.problems.some((p: string) => /tapstack\.db: PRAGMA integrity_check/.test(p)), record.problems.join('\n'));
  t.log(record.problems[0]);
  const listed = await runCli(['backup', 'list'], app.env);
  t.regex(listed.stdout, /FAILED \(drill/);

  const restore = await runCli(['backup', 'restore', '--identity', app.keyFile], app.env);
  t.is(restore.code, 1);
  t.regex(restore.stderr, /failed its checks; nothing was changed.*integrity_check.*\[restored-copy-failed-checks\]/s);
  t.deepEqual(fs.readFileSync(app.dbFile), before);
});

test('the drill catches an altered ledger row (hash chain), which SQLite itself finds fine', async (t) => {
  const { app } = await backupOf((dbFile) => {
    const db = new BetterSqlite3(dbFile);
    db.exec('DROP TRIGGER ledger_no_update');
    db.prepare('UPDATE ledger SET meta = ? WHERE seq = 17').run('{"note":"rewritten"}');
    db.close();
  });
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.code, 1);
  const record = verified.json.targets[0].record;
  t.is(record.checks.drill.sqliteIntegrity, 'ok');
  t.false(record.checks.drill.ledger.ok);
  t.true(record.problems.some((p: string) => /ledger integrity check failed .*row 17 .*does not match its stored hash/.test(p) && /ledger_no_update is missing/.test(p)), record.problems.join('\n'));
  const dry = await runCli(['backup', 'restore', '--dry-run'], app.env);
  t.is(dry.code, 0, 'a dry run needs no key');
  t.regex(dry.stdout, /verified +FAILED \(drill/);
  t.regex(dry.stdout, /warning: the last verification of .* failed/);
});

test('without a key the scheduled-style check reads back the ciphertext only, and says so', async (t) => {
  const { app } = await backupOf(() => undefined);
  const r = await runCli(['backup', 'verify', '--ciphertext-only'], app.env);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /OK \(ciphertext: \d+ objects read back/);
  t.regex(r.stdout, /no identity given: ciphertext checked only/);
});
