/**
 * Backups on the running native appliance (scripts/run-native.sh: supervisord with redis, every
 * process, [program:backup]): a backup while it serves (Redis through the rendered redis.conf and
 * cli.env), a restore that refuses while supervisord runs the app, and `restore --stop-services`,
 * which stops the programs, swaps, re-runs setup and starts them again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import { formatIdentityFile, generateKeyPair } from '../../backup/crypto/index.js';
import { runCli } from '../helpers/cli.js';
import { cleanProcessEnv, tempDir } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';

let root = '';
let env: Record<string, string> = {};
let appliance: ChildProcess | undefined;
let logFile = '';
const ports: Record<string, number> = {};
const output = () => (logFile ? fs.readFileSync(logFile, 'utf8') : '');

const status = (port: number, p = '/readyz') =>
  new Promise<number>((resolve) => {
    http.get({ host: '127.0.0.1', port, path: p, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });

test.before(async () => {
  root = tempDir('tapstack-backup-aio-');
  for (const name of ['http', 'https', 'api', 'realtime', 'redis', 'ingest', 'quoter', 'writer', 'resolver', 'scheduler', 'backup', 'archiver', 'health']) ports[name] = await freePort();
  const pair = generateKeyPair();
  fs.writeFileSync(path.join(root, 'backup.key'), formatIdentityFile(pair.identity), { mode: 0o600 });
  fs.mkdirSync(path.join(root, 'target'));
  fs.writeFileSync(path.join(root, 'backup.json'), JSON.stringify({ targets: [{ type: 'local', name: 'usb', path: path.join(root, 'target') }] }));
  env = {
    ...cleanProcessEnv(),
    TAPSTACK_DATA_DIR: path.join(root, 'data'),
    TAPSTACK_RUN_DIR: path.join(root, 'run'),
    TAPSTACK_NGINX_HTTP_PORT: String(ports.http),
    TAPSTACK_NGINX_HTTPS_PORT: String(ports.https),
    TAPSTACK_PUBLIC_ORIGIN: `https://localhost:${ports.https}`,
    TAPSTACK_HTTP_PORT: String(ports.api),
    TAPSTACK_REALTIME_PORT: String(ports.realtime),
    TAPSTACK_API_UPSTREAM: `127.0.0.1:${ports.api}`,
    TAPSTACK_REALTIME_UPSTREAM: `127.0.0.1:${ports.realtime}`,
    TAPSTACK_REDIS_URL: `redis://127.0.0.1:${ports.redis}/0`,
    TAPSTACK_INGEST_PORT: String(ports.ingest),
    TAPSTACK_QUOTER_PORT: String(ports.quoter),
    TAPSTACK_WRITER_PORT: String(ports.writer),
    TAPSTACK_RESOLVER_PORT: String(ports.resolver),
    TAPSTACK_SCHEDULER_PORT: String(ports.scheduler),
    TAPSTACK_BACKUP_PORT: String(ports.backup),
    TAPSTACK_ARCHIVE_PORT: String(ports.archiver),
    TAPSTACK_HEALTH_METRICS_PORT: String(ports.health),
    TAPSTACK_BACKUP_CONFIG_FILE: path.join(root, 'backup.json'),
    TAPSTACK_BACKUP_RECIPIENTS: pair.recipient,
    TAPSTACK_LOG_LEVEL: 'warn',
  };
  logFile = path.join(root, 'appliance.log');
  const fd = fs.openSync(logFile, 'a');
  appliance = spawn(path.join(process.cwd(), 'scripts', 'run-native.sh'), [], { env, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  await waitFor(async () => (await status(ports.api as number)) === 200 && (await status(ports.backup as number)) === 200, 'the appliance with [program:backup]', 45_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}\n--- appliance output ---\n${output().slice(-4000)}`);
  });
});

test.after.always(async () => {
  if (appliance?.pid && appliance.exitCode === null) {
    process.kill(appliance.pid, 'SIGTERM');
    await new Promise((r) => appliance?.once('exit', r));
  }
});

test.serial('backup while the appliance runs; restore refuses under supervisord, then --stop-services restores and restarts it', async (t) => {
  // No Redis password given: bin/tapstack takes the password file from the run dir's cli.env.
  const cli = env;
  const created = await runCli(['backup', 'create', '--kind', 'full', '--json'], cli);
  t.is(created.code, 0, created.stderr);
  t.is(created.json.targets[0].status, 'created');
  t.is(created.json.snapshot.redis.status, 'ok', 'Redis of the appliance (password from cli.env)');
  t.true(created.json.snapshot.files >= 6, 'database, RDB, config, secrets, TLS, marker');

  const refused = await runCli(['backup', 'restore', '--identity', path.join(root, 'backup.key')], cli);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /supervisord runs .*api.*--stop-services/s);

  const restored = await runCli(['backup', 'restore', '--identity', path.join(root, 'backup.key'), '--stop-services', '--json'], cli);
  t.is(restored.code, 0, restored.stdout + restored.stderr + output().slice(-3000));
  t.true(restored.json.done);
  t.true(restored.json.integrity.ok);
  t.true(restored.json.restartedPrograms.includes('api') && restored.json.restartedPrograms.includes('redis'));
  await waitFor(async () => (await status(ports.api as number)) === 200, 'the API after the restore', 30_000, 250);
  t.true(fs.readdirSync(path.join(root, 'data')).some((e) => e.startsWith('.pre-restore-')) || fs.readdirSync(root).some((e) => e.startsWith('data.pre-restore-')));
});
