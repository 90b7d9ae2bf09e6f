/**
 * create → list → verify → restore through `bin/tapstack`, against each kind of target (a local
 * directory, s3rver, an rsync daemon, rsync over ssh), on a database with real ledger rows while a
 * writer keeps posting rows, with a real Redis. The restored database holds exactly the rows
 * committed before the snapshot, and the stock `age` CLI decrypts our chunks.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import type { TargetSpec } from '../../backup/contracts.js';
import { decryptBuffer, generateSigningKey, parseIdentityFile } from '../../backup/crypto/index.js';
import { installPublicKey } from '../../backup/engine/install-keys.js';
import { openDb } from '../../services/shared/db/database.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { startRsyncDaemon, startS3rver, startSshd, type TestRsyncDaemon, type TestS3, type TestSshd } from '../helpers/backup-servers.js';
import { runCli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { localTarget, makeAppliance, startWriter, waitForRows } from './backup-helpers.js';

const run = promisify(execFile);
let redis: TestRedis;
let s3: TestS3;
let rsyncd: TestRsyncDaemon;
let sshd: TestSshd;

test.before(async () => {
  [redis, s3, rsyncd, sshd] = await Promise.all([startRedis(), startS3rver(), startRsyncDaemon(), startSshd()]);
});
test.after.always(async () => {
  await Promise.all([redis?.stop(), s3?.stop(), rsyncd?.stop(), sshd?.stop()]);
});

async function roundTrip(t: import('ava').ExecutionContext, spec: (root: string) => TargetSpec) {
  const root = fs.mkdtempSync('/tmp/tapstack-rt-');
  const app = makeAppliance({ targets: [spec(root)], rows: 40, redis });
  const name = spec(root).name;
  // Redis data of this appliance (its own key prefix, so parallel tests do not collide).
  const { Redis } = await import('ioredis');
  const r = new Redis({ port: redis.port, password: redis.password });
  await r.set(`${app.env.TAPSTACK_REDIS_PREFIX}k1`, 'v1');
  await r.set(`${app.env.TAPSTACK_REDIS_PREFIX}k2`, 'v2', 'EX', 3600);
  r.disconnect();

  const writer = startWriter(app.dbFile);
  await waitForRows(app.dbFile, 60);
  const created = await runCli(['backup', 'create', '--kind', 'full', '--json'], app.env);
  await waitForRows(app.dbFile, (created.json?.snapshot ? 0 : 0) + 1);
  const stats = await writer.stop();
  t.is(created.code, 0, created.stderr);
  const result = created.json.targets[0];
  t.is(result.status, 'created', JSON.stringify(result));
  t.true(result.uploadedChunks >= 2, 'database + rdb + files uploaded');
  t.is(created.json.snapshot.redis.status, 'ok');
  t.true(stats.rows > 20, `the writer kept writing during the backup (${stats.rows} rows)`);
  t.log(`${name}: writer max transaction ${stats.maxMs} ms (p99 ${stats.p99Ms} ms) during the backup; SQLite copy ${created.json.snapshot.sqlite.durationMs} ms`);

  const keyless = await runCli(['backup', 'list', '--json'], app.env);
  t.is(keyless.code, 0, keyless.stderr);
  t.is(keyless.json[0].backups[0].ledger, undefined, 'without a key, list shows no sealed detail');
  t.is(keyless.json[0].backups[0].signature, 'ok', 'signed by this installation');
  const listed = await runCli(['backup', 'list', '--json', '--identity', app.keyFile], app.env);
  t.is(listed.code, 0, listed.stderr);
  const backups = listed.json[0].backups;
  t.is(backups.length, 1);
  t.is(backups[0].id, result.id);
  t.is(backups[0].kind, 'full');
  t.is(backups[0].verify, null);

  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.code, 0, verified.stdout + verified.stderr);
  const record = verified.json.targets[0].record;
  t.true(record.ok, JSON.stringify(record.problems));
  t.is(record.level, 'drill');
  t.is(record.checks.drill.sqliteIntegrity, 'ok');
  t.true(record.checks.drill.ledger.ok);
  t.is(record.checks.drill.redis.loadedKeys, record.checks.drill.redis.keys, 'the throwaway redis-server loaded every key');
  const relisted = await runCli(['backup', 'list', '--json'], app.env);
  t.true(relisted.json[0].backups[0].verify.ok, 'list shows the verification');

  // The live database moved on; restore takes it back to exactly the snapshot's rows.
  const live = openDb(app.dbFile, { readonly: true });
  const manifestHead = backups[0].ledger;
  const liveRow = live.raw.prepare('SELECT hash FROM ledger WHERE seq = ?').get(manifestHead.headSeq) as { hash: string };
  const liveRows = (live.raw.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n;
  live.close();
  t.is(liveRow.hash, manifestHead.headHash, 'the snapshot is a prefix of the live ledger');
  t.true(liveRows > manifestHead.rows, 'rows were committed after the snapshot');

  const restored = await runCli(['backup', 'restore', '--identity', app.keyFile, '--json'], app.env);
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  t.true(restored.json.done);
  const db = openDb(app.dbFile, { readonly: true });
  const report = checkIntegrity(db);
  db.close();
  t.true(report.ok);
  t.is(report.rows, manifestHead.rows, 'exactly the rows committed before the snapshot');
  t.is(report.head.hash, manifestHead.headHash);
  t.true(fs.existsSync(path.join(restored.json.plan.rollbackDir, 'tapstack.db')), 'the replaced database is kept for rollback');
  t.is(fs.readFileSync(path.join(app.dataDir, 'secrets', 'redis-password'), 'utf8'), 'not-a-real-password\n');
  t.is(fs.statSync(path.join(app.dataDir, 'secrets', 'redis-password')).mode & 0o777, 0o600, 'secrets keep their mode');
  t.true(fs.existsSync(path.join(app.dataDir, 'redis', 'appendonlydir', 'appendonly.aof.manifest')), 'Redis AOF rebuilt from the RDB');
  return { app, result };
}

test('local directory: create, list, verify (drill), restore while a writer writes; age CLI decrypts a chunk', async (t) => {
  const { app, result } = await roundTrip(t, (root) => localTarget(root, 'usb'));
  const spec = JSON.parse(fs.readFileSync(app.configFile, 'utf8')).targets[0] as { path: string };
  const pub = JSON.parse(fs.readFileSync(path.join(spec.path, 'backups', result.id, 'manifest.json'), 'utf8'));
  t.is(pub.format, 'tapstack-backup/2');
  const manifest = JSON.parse((await decryptBuffer({ identities: parseIdentityFile(fs.readFileSync(app.keyFile, 'utf8')) }, Buffer.from(pub.sealed, 'base64'))).toString('utf8'));
  const chunk = manifest.files.find((f: { name: string }) => f.name === 'tapstack.db').chunks[0];
  const out = path.join(app.root, 'chunk.plain');
  await run('age', ['--decrypt', '-i', app.keyFile, '-o', out, path.join(spec.path, 'chunks', `${chunk.id}.age`)]);
  const plain = fs.readFileSync(out);
  t.is(createHash('sha256').update(plain).digest('hex'), chunk.sha256, 'age 1.x decrypts our chunk to the bytes the manifest names');
  t.is(plain.subarray(0, 15).toString(), 'SQLite format 3');

  // DEPLOY.md's "With only age and standard tools" runbook, run as written.
  const doc = fs.readFileSync('DEPLOY.md', 'utf8');
  const script = /<!-- manual-restore:start -->\n```sh\n([\s\S]*?)```\n<!-- manual-restore:end -->/.exec(doc)?.[1];
  t.truthy(script, 'DEPLOY.md has the manual restore snippet');
  const manual = path.join(app.root, 'manual');
  fs.mkdirSync(manual);
  const PUB = installPublicKey(app.dataDir) as string;
  const { stdout } = await run('bash', ['-e', '-o', 'pipefail', '-c', script as string], { env: { ...process.env, B: spec.path, KEY: app.keyFile, OUT: manual, PUB } });
  t.regex(stdout, /tapstack\.db: OK/);
  t.regex(stdout, /redis\/dump\.rdb: OK/);
  const check = await run('sqlite3', [path.join(manual, 'tapstack.db'), 'PRAGMA integrity_check; SELECT count(*) FROM ledger;']);
  t.is(check.stdout.trim().split('\n')[0], 'ok');
  t.is(Number(check.stdout.trim().split('\n')[1]), manifest.ledger.rows);

  // The documented signature check refuses another key's signature and a modified manifest.
  const other = generateSigningKey().publicKey;
  const refused = await run('bash', ['-e', '-o', 'pipefail', '-c', script as string], { env: { ...process.env, B: spec.path, KEY: app.keyFile, OUT: path.join(app.root, 'manual-2'), PUB: other } }).then(() => 'ran', () => 'refused');
  t.is(refused, 'refused', 'openssl refuses a signature by another key');
  t.false(fs.existsSync(path.join(app.root, 'manual-2', 'tapstack.db')), 'nothing was restored');
});

test('S3 (s3rver): round trip', async (t) => {
  await roundTrip(t, () => s3.spec('s3', { prefix: `rt-${Date.now()}` }));
});

test('rsync daemon: round trip', async (t) => {
  await roundTrip(t, () => rsyncd.spec('rsyncd', `rt-${Date.now()}`));
});

test('rsync over ssh (rrsync): round trip', async (t) => {
  await roundTrip(t, () => sshd.spec('ssh', `rt-${Date.now()}`));
});
