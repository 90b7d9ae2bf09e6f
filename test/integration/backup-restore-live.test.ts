/**
 * What a restore counts as "the app is running": processes that use THIS data directory (open
 * files, a held lock), never pids read from the database it is about to replace. Next to a live
 * instance whose database was copied in, the copied heartbeats are a record `--force` overrides;
 * a process holding the directory's files is never overridden. And the operator's backup config
 * survives a restore unless `--restore-config`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import test from 'ava';
import BetterSqlite3 from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { localTarget, makeAppliance } from './backup-helpers.js';

let redis: TestRedis;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const readyz = (port: number) =>
  new Promise<number>((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });

const refs = (dbFile: string) => {
  const db = new BetterSqlite3(dbFile, { readonly: true });
  try {
    return (db.prepare('SELECT ref FROM ledger ORDER BY seq').all() as { ref: string }[]).map((r) => r.ref);
  } finally {
    db.close();
  }
};

/** An appliance with `rows` seed ledger rows and a local backup target. */
function appliance(rows: number, withRedis = false) {
  const app = makeAppliance({ targets: [], rows, ...(withRedis ? { redis } : {}) });
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [localTarget(app.root)] }, null, 2));
  return app;
}

const seeds = (n: number) => Array.from({ length: n }, (_, i) => `seed-${i}`);

test('restore next to a live instance with a copied database: copied heartbeats are a record --force overrides', async (t) => {
  const live = appliance(3, true);
  const other = appliance(5);
  const created = await runCli(['backup', 'create', '--json'], other.env);
  t.is(created.code, 0, created.stderr);

  // The live instance: a real API process on its own data directory, which writes its heartbeat
  // (its pid, now) on every readiness probe.
  const port = await freePort();
  const api = startProcess('services/api/main.js', { ...live.env, TAPSTACK_HTTP_PORT: String(port) });
  t.teardown(() => api.stop('SIGKILL'));
  await waitFor(async () => (await readyz(port)) === 200, 'the live API', 60_000, 100).catch((err: Error) => {
    throw new Error(`${err.message}\n${api.output()}`);
  });
  // An operator copies the live database into the other data directory (a test restore, a
  // migration): it carries the live instance's fresh heartbeat and the pid of a running process.
  for (const s of ['', '-wal', '-shm']) fs.rmSync(other.dbFile + s, { force: true });
  const src = new BetterSqlite3(live.dbFile, { readonly: true });
  src.exec(`VACUUM INTO '${other.dbFile.replace(/'/g, "''")}'`);
  const beat = src.prepare("SELECT pid FROM heartbeats WHERE service = 'api'").get() as { pid: number };
  src.close();
  t.true(fs.existsSync(`/proc/${beat.pid}`), 'the copied heartbeat names a live process');

  const refused = await runCli(['backup', 'restore', '--identity', other.keyFile, '--json'], other.env);
  t.is(refused.code, 1, refused.stdout);
  t.is(refused.json.error.code, 'app-running');
  t.deepEqual(refused.json.error.details.blocking, [], 'nothing uses this data directory');
  t.regex(refused.json.error.details.overridable.join(' '), /heartbeat of api from \d+ s ago/);
  t.notRegex(refused.json.error.message, new RegExp(`pid ${beat.pid}\\b`), 'the copied pid is not taken for this instance');
  t.regex(refused.json.error.message, /--force/);

  const forced = await runCli(['backup', 'restore', '--identity', other.keyFile, '--force', '--json'], other.env);
  t.is(forced.code, 0, forced.stdout + forced.stderr);
  t.true(forced.json.done);
  t.true(forced.json.integrity.ok);
  t.deepEqual(refs(other.dbFile), seeds(5), "the other instance's own backup is back");
  t.is(await readyz(port), 200, 'the live instance was not disturbed');
  t.deepEqual(refs(live.dbFile), seeds(3));
});

/** A process (not an ancestor of the CLI) that keeps the database open and holds the setup lock. */
function holder(dataDir: string) {
  const code = `
    const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
    const path = require('node:path');
    const db = new Database(path.join(process.argv[1], 'tapstack.db'));
    db.prepare('SELECT count(*) FROM ledger').get();
    const lock = new Database(path.join(process.argv[1], '.tapstack-setup.lock'));
    lock.pragma('journal_mode = MEMORY');
    lock.exec('CREATE TABLE IF NOT EXISTS setup_lock (x INTEGER)');
    lock.exec('BEGIN EXCLUSIVE');
    process.stdout.write('ready\\n');
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ['-e', code, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const ready = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (c) => reject(new Error(`holder exited ${c}`)));
  });
  return { child, ready, stop: async () => (child.exitCode === null && child.signalCode === null ? (child.kill('SIGKILL'), await exited) : undefined) };
}

test('a process holding the data directory blocks a restore even with --force; the backup config is kept unless --restore-config', async (t) => {
  const app = appliance(4);
  const created = await runCli(['backup', 'create', '--json'], app.env);
  t.is(created.code, 0, created.stderr);
  const backedUpConfig = fs.readFileSync(app.configFile, 'utf8');

  const h = holder(app.dataDir);
  t.teardown(() => h.stop());
  await h.ready;
  const before = fs.readFileSync(app.dbFile);
  for (const extra of [[], ['--force']]) {
    const r = await runCli(['backup', 'restore', '--identity', app.keyFile, ...extra], app.env);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`pid ${h.child.pid} \\([^)]*\\) has [^;]*tapstack\\.db[^;]* open`));
    t.regex(r.stderr, /another process holds the lock .*\.tapstack-setup\.lock/);
    t.regex(r.stderr, /\[app-running\]$/m);
  }
  t.deepEqual(fs.readFileSync(app.dbFile), before, 'nothing was swapped');
  await h.stop();

  // The operator has since pointed the config at a surviving target: a restore keeps it.
  const edited = JSON.stringify({ targets: [localTarget(app.root), localTarget(app.root, 'spare')] }, null, 2);
  fs.writeFileSync(app.configFile, edited);
  const kept = await runCli(['backup', 'restore', '--identity', app.keyFile, '--target', 'local', '--json'], app.env);
  t.is(kept.code, 0, kept.stdout + kept.stderr);
  t.like(kept.json.plan.files.find((f: { name: string }) => f.name === 'config/backup.json'), { kept: app.configFile });
  t.true(kept.json.warnings.some((w: string) => /current backup config .* is kept/.test(w)));
  t.is(fs.readFileSync(app.configFile, 'utf8'), edited);
  const restored = await runCli(['backup', 'restore', '--identity', app.keyFile, '--target', 'local', '--restore-config', '--json'], app.env);
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  t.is(fs.readFileSync(app.configFile, 'utf8'), backedUpConfig, "--restore-config puts the backup's copy back");
});
