/**
 * Disaster recovery as the runbook (DEPLOY.md) tells it: the data directory is gone; with only the
 * S3 bucket, the backup config kept offline and the identity, `tapstack backup restore` rebuilds it;
 * the ledger integrity check passes, Redis comes back from the restored RDB (appendonly yes, as the
 * appliance runs it) and the API starts on it. And: a restore refuses while the app is running.
 */
import { installPublicKey } from '../../backup/engine/install-keys.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { startS3rver, type TestS3 } from '../helpers/backup-servers.js';
import { runCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { makeAppliance } from './backup-helpers.js';

let s3: TestS3;
let redis: TestRedis;
test.before(async () => {
  [s3, redis] = await Promise.all([startS3rver(), startRedis()]);
});
test.after.always(async () => {
  await Promise.all([s3?.stop(), redis?.stop()]);
});

const readyz = (port: number) =>
  new Promise<number>((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });

test('disaster: the data directory is lost; restore from S3 alone, integrity passes, Redis and the API start on it', async (t) => {
  const app = makeAppliance({ targets: [s3.spec('s3', { prefix: 'disaster' })], rows: 120, redis });
  const r = new Redis({ port: redis.port, password: redis.password });
  for (let i = 0; i < 25; i++) await r.set(`${app.env.TAPSTACK_REDIS_PREFIX}key:${i}`, String(i));
  r.disconnect();
  const created = await runCli(['backup', 'create', '--kind', 'full', '--json'], app.env);
  t.is(created.code, 0, created.stderr);
  const redisKeys = created.json.snapshot.redis.keys as number;
  const before = await runCli(['integrity', 'check', '--json'], app.env);

  // Kept offline with the identity: the signing public key `tapstack setup` printed.
  const signingKey = installPublicKey(app.dataDir) as string;
  fs.rmSync(app.dataDir, { recursive: true, force: true });
  const dry = await runCli(['backup', 'restore', '--dry-run'], app.env);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /available window:\n {4}s3: \S+ \.\. \S+ \(1 backups\)/);
  const restored = await runCli(['backup', 'restore', '--identity', app.keyFile, '--signing-key', signingKey, '--json'], app.env);
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  t.true(restored.json.done);
  t.true(restored.json.integrity.ok);

  const after = await runCli(['integrity', 'check', '--json'], app.env);
  t.is(after.code, 0);
  t.true(after.json.ok);
  t.deepEqual(after.json.head, before.json.head);
  t.is(after.json.rows, 120);
  t.true(fs.existsSync(path.join(app.dataDir, '.tapstack-volume.json')), 'the install marker is back (setup accepts the directory)');
  t.is(fs.readFileSync(path.join(app.dataDir, 'secrets', 'redis-password'), 'utf8'), 'not-a-real-password\n');

  // Redis as the appliance runs it (appendonly yes) loads the restored data.
  const port = await freePort();
  const redisDir = path.join(app.dataDir, 'redis');
  const rs = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore' });
  try {
    const keys = await waitFor(async () => {
      const c = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return await c.dbsize();
      } finally {
        c.disconnect();
      }
    }, 'restored redis');
    t.is(keys, redisKeys, 'every key of the backup is back');
  } finally {
    rs.kill('SIGKILL');
  }

  const httpPort = await freePort();
  const api = startProcess('services/api/main.js', { ...app.env, TAPSTACK_HTTP_PORT: String(httpPort) });
  try {
    await waitFor(async () => (await readyz(httpPort)) === 200, 'the API on the restored data', 20_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${api.output()}`);
    });
    t.pass();
  } finally {
    await api.stop();
  }
});

test('a restore refuses while the app is running, and --force does not override a live process', async (t) => {
  const app = makeAppliance({ targets: [s3.spec('s3', { prefix: 'running' })], redis });
  const created = await runCli(['backup', 'create', '--json'], app.env);
  t.is(created.code, 0, created.stderr);
  const httpPort = await freePort();
  const api = startProcess('services/api/main.js', { ...app.env, TAPSTACK_HTTP_PORT: String(httpPort) });
  try {
    await waitFor(async () => (await readyz(httpPort)) === 200, 'api', 20_000, 100);
    const before = fs.readFileSync(app.dbFile);
    for (const extra of [[], ['--force']]) {
      const r = await runCli(['backup', 'restore', '--identity', app.keyFile, ...extra], app.env);
      t.is(r.code, 1);
      t.regex(r.stderr, /refusing to restore while the app may be running on .*pid \d+ \([^)]*services\/api\/main\.js\) has [^)]*tapstack\.db.* open.*\[app-running\]/s);
    }
    t.deepEqual(fs.readFileSync(app.dbFile), before);
  } finally {
    await api.stop();
  }
  // Stopped, its heartbeat is still fresh: refused unless --force.
  const fresh = await runCli(['backup', 'restore', '--identity', app.keyFile], app.env);
  t.is(fresh.code, 1);
  t.regex(fresh.stderr, /holds a heartbeat of api from \d+ s ago.*--force/s);
  t.notRegex(fresh.stderr, /pid \d+/, 'no pid read from the database is taken for a live process');
  const forced = await runCli(['backup', 'restore', '--identity', app.keyFile, '--force', '--json'], app.env);
  t.is(forced.code, 0, forced.stderr);
  t.true(forced.json.done);
});
