/**
 * What goes wrong, and what the operator reads: a bit-flipped, truncated or missing object and a
 * wrong key are each detected (by verify, and by restore before anything is swapped) with the object
 * named; one target down never blocks the others; kill -9 mid-upload leaves no listed backup and the
 * next run succeeds; no recipients or a bad backup config refuse with exit 2.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { decryptBuffer, formatIdentityFile, generateKeyPair, parseIdentityFile } from '../../backup/crypto/index.js';
import { createTarget } from '../../backup/targets/index.js';
import { openDb } from '../../services/shared/db/database.js';
import { startS3rver, type TestS3 } from '../helpers/backup-servers.js';
import { runCli, TAPSTACK_BIN } from '../helpers/cli.js';
import { cleanProcessEnv } from '../helpers/env.js';
import { localTarget, makeAppliance } from './backup-helpers.js';

let s3: TestS3;
test.before(async () => {
  s3 = await startS3rver();
});
test.after.always(async () => {
  await s3?.stop();
});

/** An appliance with one backup on a local target; returns the chunk file of the database. */
async function backedUp() {
  const app = makeAppliance({ targets: [] });
  const target = localTarget(app.root, 'usb') as { path: string; name: string; type: 'local' };
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }));
  const created = await runCli(['backup', 'create', '--json'], app.env);
  if (created.code !== 0) throw new Error(created.stderr);
  const id = created.json.targets[0].id as string;
  // The file list is in the sealed (encrypted) part of a format-2 manifest.
  const pub = JSON.parse(fs.readFileSync(path.join(target.path, 'backups', id, 'manifest.json'), 'utf8'));
  const manifest = JSON.parse((await decryptBuffer({ identities: parseIdentityFile(fs.readFileSync(app.keyFile, 'utf8')) }, Buffer.from(pub.sealed, 'base64'))).toString('utf8'));
  const sha = manifest.files.find((f: { name: string }) => f.name === 'tapstack.db').chunks[0].id as string;
  const chunkFile = path.join(target.path, 'chunks', `${sha}.age`);
  return { app, id, key: `chunks/${sha}.age`, chunkFile, dbBefore: fs.readFileSync(app.dbFile) };
}

async function expectDetected(t: import('ava').ExecutionContext, app: ReturnType<typeof makeAppliance>, key: string, pattern: RegExp, code: string, dbBefore: Buffer) {
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.code, 1);
  const problems: string[] = verified.json.targets[0].record.problems;
  t.true(problems.some((p) => p.includes(key) && pattern.test(p)), problems.join('\n'));
  const text = await runCli(['backup', 'verify', '--identity', app.keyFile], app.env);
  t.regex(text.stdout, /FAILED/);
  t.true(text.stdout.includes(key), text.stdout);

  const restore = await runCli(['backup', 'restore', '--identity', app.keyFile], app.env);
  t.is(restore.code, 1);
  t.true(restore.stderr.includes(key), restore.stderr);
  t.regex(restore.stderr, new RegExp(`\\[${code}\\]`));
  t.deepEqual(fs.readFileSync(app.dbFile), dbBefore, 'nothing was swapped');
}

test('a bit-flipped object is detected, with or without the key, and restore refuses', async (t) => {
  const { app, key, chunkFile, dbBefore } = await backedUp();
  const bytes = fs.readFileSync(chunkFile);
  const mid = Math.floor(bytes.length / 2);
  bytes[mid] = (bytes[mid] ?? 0) ^ 0x01;
  fs.writeFileSync(chunkFile, bytes);
  await expectDetected(t, app, key, /modified after upload/, 'object-corrupt', dbBefore);
  const keyless = await runCli(['backup', 'verify', '--ciphertext-only', '--json'], app.env);
  t.is(keyless.code, 1);
  t.true(keyless.json.targets[0].record.problems.some((p: string) => p.includes(key)));
});

test('a truncated object is detected and named', async (t) => {
  const { app, key, chunkFile, dbBefore } = await backedUp();
  const size = fs.statSync(chunkFile).size;
  fs.truncateSync(chunkFile, size - 1000);
  await expectDetected(t, app, key, new RegExp(`truncated \\(${size - 1000} of ${size} bytes\\)`), 'object-truncated', dbBefore);
});

test('a missing object is detected and named', async (t) => {
  const { app, key, chunkFile, dbBefore } = await backedUp();
  fs.rmSync(chunkFile);
  await expectDetected(t, app, key, /is missing/, 'object-missing', dbBefore);
});

test('a wrong key is reported as such and never changes the recorded verification', async (t) => {
  const { app, dbBefore } = await backedUp();
  const good = await runCli(['backup', 'verify', '--identity', app.keyFile, '--no-drill', '--json'], app.env);
  t.is(good.code, 0, good.stdout);
  const other = path.join(app.root, 'other.key');
  fs.writeFileSync(other, formatIdentityFile(generateKeyPair().identity), { mode: 0o600 });
  const verified = await runCli(['backup', 'verify', '--identity', other, '--json'], app.env);
  t.is(verified.code, 2, 'a wrong key is bad input');
  t.like(verified.json.targets[0], { status: 'wrong-key', error: { code: 'wrong-key' } });
  t.regex(verified.json.targets[0].error.message, /cannot be decrypted with the given key\(s\).*recorded verification is unchanged/);
  t.is(verified.json.targets[0].record, undefined, 'no verification record');
  const text = await runCli(['backup', 'verify', '--identity', other], app.env);
  t.regex(text.stdout, /WRONG KEY \[wrong-key\]/);
  const listed = await runCli(['backup', 'list', '--json'], app.env);
  t.like(listed.json[0].backups.at(-1).verify, { ok: true, level: 'decrypt' }, 'still the good verification');
  const restore = await runCli(['backup', 'restore', '--identity', other], app.env);
  t.is(restore.code, 2);
  t.regex(restore.stderr, /wrong identity or passphrase.*\[wrong-key\]/);
  t.notRegex(restore.stderr, /verification .* failed/, 'no warning about a failed verification');
  t.deepEqual(fs.readFileSync(app.dbFile), dbBefore);
  const none = await runCli(['backup', 'verify'], app.env);
  t.is(none.code, 2);
  t.regex(none.stderr, /--identity FILE.*\[no-identity\]/);
});

test('one target down while the others succeed', async (t) => {
  const app = makeAppliance({ targets: [] });
  const good = localTarget(app.root, 'good');
  const targets = [good, { type: 'local', name: 'unmounted', path: path.join(app.root, 'not-mounted') }, { ...s3.spec('s3down'), endpoint: 'http://127.0.0.1:1' }, s3.spec('s3up', { prefix: 'up' })];
  fs.writeFileSync(app.configFile, JSON.stringify({ targets }));
  const created = await runCli(['backup', 'create', '--json'], app.env);
  t.is(created.code, 1, 'a failed target fails the run');
  const byName = Object.fromEntries(created.json.targets.map((r: { target: string }) => [r.target, r]));
  t.is(byName.good.status, 'created');
  t.is(byName.s3up.status, 'created');
  t.is(byName.unmounted.status, 'failed');
  t.regex(byName.unmounted.error.message, /does not exist \(not mounted\?\)/);
  t.is(byName.s3down.status, 'failed');
  t.is(byName.s3down.error.code, 'unreachable');
  const text = await runCli(['backup', 'create'], app.env);
  t.regex(text.stdout, /= good: unchanged since/);
  t.regex(text.stdout, /✗ unmounted: FAILED \[unreachable\]/);
  const listed = await runCli(['backup', 'list', '--json'], app.env);
  t.is(listed.code, 1);
  t.is(listed.json.find((c: { target: string }) => c.target === 'good').backups.length, 1, 'the second run was unchanged: nothing new listed');
  t.truthy(listed.json.find((c: { target: string }) => c.target === 'unmounted').error);
});

test('kill -9 mid-upload leaves no listed backup; the next run succeeds and prune finds the garbage', async (t) => {
  const spec = s3.spec('s3', { prefix: `kill-${Date.now()}` });
  const app = makeAppliance({ targets: [spec] });
  const db = openDb(app.dbFile, { synchronous: 'NORMAL' });
  db.raw.exec('CREATE TABLE scratch (b BLOB)');
  const ins = db.raw.prepare('INSERT INTO scratch (b) VALUES (?)');
  db.raw.transaction(() => {
    for (let i = 0; i < 96; i++) ins.run(randomBytes(1024 * 1024));
  })();
  db.close();
  const target = createTarget(spec);
  const child = spawn(TAPSTACK_BIN, ['backup', 'create'], { env: { ...cleanProcessEnv(), ...app.env }, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  let uploaded = 0;
  for (let i = 0; i < 1000 && uploaded === 0; i++) {
    uploaded = (await target.list('chunks/')).length;
    if (uploaded === 0) await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  await exited;
  const garbage = (await target.list('chunks/')).length;
  t.true(garbage >= 1 && garbage < 24, `killed mid-upload (${garbage} of ~25 chunks stored)`);
  t.deepEqual(await target.list('backups/'), [], 'no manifest, so no backup');
  const listed = await runCli(['backup', 'list', '--json'], app.env);
  t.deepEqual(listed.json[0].backups, []);
  const dry = await runCli(['backup', 'prune', '--dry-run', '--json'], app.env);
  t.is(dry.json.targets[0].unreferencedChunks, garbage, 'prune sees the orphaned chunks');

  const again = await runCli(['backup', 'create', '--json'], app.env);
  t.is(again.code, 0, again.stderr);
  t.is(again.json.targets[0].status, 'created', 'the stale lock of the killed run did not block');
  t.false(fs.readdirSync(path.join(app.dataDir, 'backup-staging')).some((e) => e.startsWith('run-')), 'staging of the killed run removed');
  const after = await runCli(['backup', 'prune', '--dry-run', '--json'], app.env);
  t.is(after.json.targets[0].unreferencedChunks, 0, 'the orphans were re-uploaded as part of the complete backup');
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--no-drill', '--json'], app.env);
  t.true(verified.json.targets[0].record.ok, verified.stdout);
  await target.close?.();
});

test('no recipient configured: refuse with exit 78 (configuration) and say how to make one', async (t) => {
  const app = makeAppliance({ targets: [] });
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [localTarget(app.root)] }));
  const r = await runCli(['backup', 'create'], { ...app.env, TAPSTACK_BACKUP_RECIPIENTS: '' });
  t.is(r.code, 78);
  t.regex(r.stderr, /tapstack backup keygen.*TAPSTACK_BACKUP_RECIPIENTS.*\[no-recipients\]/s);
});

test('an invalid backup config lists every problem and exits 78 (configuration)', async (t) => {
  const app = makeAppliance({ targets: [] });
  fs.writeFileSync(
    app.configFile,
    JSON.stringify({
      targets: [
        { type: 'local', name: 'a', path: '/x', schedule: 'every day' },
        { type: 'local', name: 'a', path: '/y', retention: { keepWithin: '7 days' } },
        { type: 'rsync', name: 'r', url: 'ssh://h/x' },
        { type: 'ftp', name: 'f' },
      ],
      drill: '61 * * * *',
      extra: 1,
    }),
  );
  const r = await runCli(['backup', 'list'], app.env);
  t.is(r.code, 78);
  for (const p of [/targets\.0\.schedule: not a valid cron/, /targets\.1\.retention\.keepWithin/, /targets\.3\.type/, /drill: not a valid cron/, /extra/]) t.regex(r.stderr, p);
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [{ type: 'local', name: 'a', path: '/x' }, { type: 'local', name: 'a', path: '/y' }, { type: 'rsync', name: 'r', url: 'ssh://h/x' }] }));
  const r2 = await runCli(['backup', 'list'], app.env);
  t.is(r2.code, 78);
  t.regex(r2.stderr, /"a" is used by two targets/);
  t.regex(r2.stderr, /targets\.2\.sshKeyFile: required for ssh:\/\/ targets/);
});
