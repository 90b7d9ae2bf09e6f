/**
 * Incrementals upload only the chunks that changed (the SQLite copy keeps unchanged pages at the
 * same offsets) and nothing at all when nothing changed, Redis included; a full backup reads back
 * what it reuses and repairs damage; a change of recipients re-encrypts; prune applies retention,
 * keeps the newest verified backup and collects unreferenced chunks.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { formatIdentityFile, generateKeyPair } from '../../backup/crypto/index.js';
import { adminMovement } from '../../services/shared/accounts.js';
import { openDb } from '../../services/shared/db/database.js';
import { runCli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { ADDRESSES, localTarget, makeAppliance } from './backup-helpers.js';

let redis: TestRedis;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

function addScratch(dbFile: string, mib: number) {
  const db = openDb(dbFile, { synchronous: 'NORMAL' });
  db.raw.exec('CREATE TABLE IF NOT EXISTS scratch (b BLOB)');
  const ins = db.raw.prepare('INSERT INTO scratch (b) VALUES (?)');
  db.raw.transaction(() => {
    for (let i = 0; i < mib * 4; i++) ins.run(randomBytes(256 * 1024));
  })();
  db.close();
}

function credit(dbFile: string, ref: string) {
  const db = openDb(dbFile, { synchronous: 'NORMAL' });
  adminMovement(db, { address: ADDRESSES[0] as string, direction: 'credit', amount: 7, ref }, Date.now());
  db.close();
}

const manifestOf = (dir: string, id: string) => JSON.parse(fs.readFileSync(path.join(dir, 'backups', id, 'manifest.json'), 'utf8'));
/** The chunk objects a backup uses, from the public part of its manifest (format 2: keyed ids). */
const chunkSet = (m: { objects: { id: string }[] }) => new Set(m.objects.map((o) => o.id));

test('an incremental uploads only the changed chunks, and nothing when nothing changed (Redis included)', async (t) => {
  const app = makeAppliance({ targets: [], redis });
  const target = localTarget(app.root) as { path: string };
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }));
  addScratch(app.dbFile, 24);
  const r = new Redis({ port: redis.port, password: redis.password });
  await r.set(`${app.env.TAPSTACK_REDIS_PREFIX}a`, '1');

  const first = await runCli(['backup', 'create', '--json'], app.env);
  t.is(first.code, 0, first.stderr);
  const one = first.json.targets[0];
  t.is(one.status, 'created');
  t.true(one.uploadedChunks >= 7, `${one.uploadedChunks} chunks`);

  const same = await runCli(['backup', 'create', '--json'], app.env);
  t.is(same.json.targets[0].status, 'unchanged');
  t.is(same.json.targets[0].uploadedChunks, 0);
  t.is(same.json.targets[0].id, one.id);
  t.is(same.json.snapshot.redis.source, 'unchanged-dump', 'an unchanged Redis is not re-saved');
  const text = await runCli(['backup', 'create'], app.env);
  t.regex(text.stdout, new RegExp(`unchanged since ${one.id}: nothing uploaded`));
  t.is(fs.readdirSync(path.join(target.path, 'backups')).length, 1, 'no new backup listed');

  credit(app.dbFile, 'one-more');
  const third = await runCli(['backup', 'create', '--json'], app.env);
  const three = third.json.targets[0];
  t.is(three.status, 'created');
  const before = chunkSet(manifestOf(target.path, one.id));
  const after = chunkSet(manifestOf(target.path, three.id));
  const changed = [...after].filter((c) => !before.has(c));
  t.is(three.uploadedChunks, changed.length, 'exactly the chunks that are new');
  t.true(changed.length <= 3, `one ledger row changed ${changed.length} of ${after.size} chunks`);
  t.is(three.reusedChunks, after.size - changed.length);
  t.log(`one row: ${changed.length} of ${after.size} chunks uploaded (${three.uploadedBytes} bytes)`);

  await r.set(`${app.env.TAPSTACK_REDIS_PREFIX}b`, '2');
  const fourth = await runCli(['backup', 'create', '--json'], app.env);
  t.is(fourth.json.targets[0].status, 'created', 'a Redis change is a change');
  t.is(fourth.json.snapshot.redis.source, 'bgsave');
  t.true(fourth.json.targets[0].uploadedChunks <= 2, 'only the RDB chunk');
  r.disconnect();

  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.true(verified.json.targets[0].record.ok, verified.stdout);
});

test('a full backup reads back the chunks it reuses and repairs a damaged one', async (t) => {
  const app = makeAppliance({ targets: [] });
  const target = localTarget(app.root) as { path: string };
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }));
  addScratch(app.dbFile, 8);
  const first = await runCli(['backup', 'create', '--json'], app.env);
  const m = manifestOf(target.path, first.json.targets[0].id);
  const victim = path.join(target.path, 'chunks', `${m.objects[1].id}.age`);
  const bytes = fs.readFileSync(victim);
  bytes[100] = (bytes[100] ?? 0) ^ 0xff;
  fs.writeFileSync(victim, bytes);

  const inc = await runCli(['backup', 'create', '--json'], app.env);
  t.is(inc.json.targets[0].status, 'unchanged', 'an incremental trusts the listing (same size)');
  const full = await runCli(['backup', 'create', '--kind', 'full', '--json'], app.env);
  const f = full.json.targets[0];
  t.is(f.status, 'created');
  t.is(f.healedChunks, 1);
  t.is(f.uploadedChunks, 1);
  t.regex(f.notes.join(' '), /missing or damaged and were uploaded again/);
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.true(verified.json.targets[0].record.ok, 'the newest backup verifies after the repair');
  const unchangedFull = await runCli(['backup', 'create', '--kind', 'full', '--json'], app.env);
  t.is(unchangedFull.json.targets[0].status, 'unchanged');
  t.true(unchangedFull.json.targets[0].reusedChunks > 0, 'read back and found intact');
});

test('new recipients: every chunk is encrypted again to them', async (t) => {
  const app = makeAppliance({ targets: [] });
  const target = localTarget(app.root) as { path: string };
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }));
  const first = await runCli(['backup', 'create', '--json'], app.env);
  const pair = generateKeyPair();
  const newKey = path.join(app.root, 'new.key');
  fs.writeFileSync(newKey, formatIdentityFile(pair.identity), { mode: 0o600 });
  const env = { ...app.env, TAPSTACK_BACKUP_RECIPIENTS: pair.recipient };
  const second = await runCli(['backup', 'create', '--json'], env);
  const s = second.json.targets[0];
  t.is(s.status, 'created');
  t.is(s.uploadedChunks, first.json.targets[0].uploadedChunks);
  t.regex(s.notes.join(' '), /recipients changed/);
  const verified = await runCli(['backup', 'verify', '--identity', newKey, '--json'], env);
  t.true(verified.json.targets[0].record.ok, verified.stdout);
});

test('prune applies retention, keeps the newest verified backup and deletes unreferenced chunks', async (t) => {
  const app = makeAppliance({ targets: [] });
  const target = { ...localTarget(app.root), retention: { keepLast: 2, hourly: 0, daily: 0, weekly: 0, monthly: 0 } };
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }));
  addScratch(app.dbFile, 4);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    addScratch(app.dbFile, 1); // new pages: new chunks each time
    const r = await runCli(['backup', 'create', '--json'], app.env);
    ids.push(r.json.targets[0].id);
  }
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--backup', ids[1] as string, '--no-drill', '--json'], app.env);
  t.true(verified.json.targets[0].record.ok);

  const chunksBefore = fs.readdirSync(path.join(target.path, 'chunks')).length;
  const dry = await runCli(['backup', 'prune', '--dry-run', '--json'], app.env);
  t.is(dry.code, 0, dry.stderr);
  const d = dry.json.targets[0];
  t.deepEqual(d.remove.map((x: { id: string }) => x.id).sort(), [ids[0], ids[2]].sort());
  t.deepEqual(d.keep.find((k: { id: string }) => k.id === ids[1]).reasons, ['newest verified']);
  t.true(d.unreferencedChunks > 0);
  t.is(fs.readdirSync(path.join(target.path, 'chunks')).length, chunksBefore, 'dry run deletes nothing');
  const text = await runCli(['backup', 'prune', '--dry-run'], app.env);
  t.regex(text.stdout, /would remove 2 backup\(s\)/);

  const pruned = await runCli(['backup', 'prune', '--json'], app.env);
  t.is(pruned.code, 0);
  const listed = await runCli(['backup', 'list', '--json'], app.env);
  t.deepEqual(listed.json[0].backups.map((b: { id: string }) => b.id), [ids[1], ids[3], ids[4]]);
  t.is(fs.readdirSync(path.join(target.path, 'chunks')).length, chunksBefore - d.unreferencedChunks);
  for (const id of [ids[1], ids[3], ids[4]]) {
    const v = await runCli(['backup', 'verify', '--identity', app.keyFile, '--backup', id as string, '--no-drill', '--json'], app.env);
    t.true(v.json.targets[0].record.ok, `${id} still complete after prune`);
  }
});
