/**
 * The backup scheduler process as supervisord runs it: cron schedules from the backup config
 * (seconds-resolution crons here), runs behind the lock, the drill with the configured identity,
 * metrics and /readyz on TAPSTACK_BACKUP_PORT; an invalid config makes it not ready.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess } from '../helpers/process.js';
import { localTarget, makeAppliance } from './backup-helpers.js';

const get = (port: number, p: string) =>
  new Promise<{ status: number; body: string }>((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: p, timeout: 2000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', () => resolve({ status: 0, body: '' }));
  });

const metric = (body: string, name: string, target: string) => Number(new RegExp(`^${name}\\{[^}]*target="${target}"[^}]*\\} (\\S+)$`, 'm').exec(body)?.[1] ?? NaN);

test('scheduled backups and drills run, and their results are exported as metrics', async (t) => {
  const app = makeAppliance({ targets: [] });
  const target = { ...localTarget(app.root, 'usb'), schedule: '*/2 * * * * *', incrementalSchedule: '' };
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target], drill: '*/3 * * * * *' }));
  const port = await freePort();
  const proc = startProcess('backup/daemon/main.js', { ...app.env, TAPSTACK_BACKUP_PORT: String(port), TAPSTACK_BACKUP_IDENTITY_FILE: app.keyFile, TAPSTACK_LOG_LEVEL: 'info' });
  try {
    await waitFor(async () => (await get(port, '/readyz')).status === 200, 'backup /readyz', 10_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.output()}`);
    });
    const backups = path.join(target.path, 'backups');
    await waitFor(() => fs.existsSync(backups) && fs.readdirSync(backups).length > 0, 'a scheduled backup', 15_000, 100);
    const id = fs.readdirSync(backups)[0] as string;
    await waitFor(() => fs.readdirSync(path.join(backups, id)).some((f) => f.startsWith('verify-')), 'a scheduled drill', 20_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.output()}`);
    });
    const verifyFile = fs.readdirSync(path.join(backups, id)).find((f) => f.startsWith('verify-')) as string;
    const record = JSON.parse(fs.readFileSync(path.join(backups, id, verifyFile), 'utf8'));
    t.true(record.ok, JSON.stringify(record.problems));
    t.is(record.level, 'drill', 'with TAPSTACK_BACKUP_IDENTITY_FILE the drill decrypts and restores');

    const body = await waitFor(async () => {
      const m = (await get(port, '/metrics')).body;
      return Number.isFinite(metric(m, 'tapstack_backup_last_verified_timestamp_seconds', 'usb')) ? m : undefined;
    }, 'metrics', 10_000, 200);
    const now = Date.now() / 1000;
    t.true(Math.abs(metric(body, 'tapstack_backup_last_success_timestamp_seconds', 'usb') - now) < 30);
    t.true(metric(body, 'tapstack_backup_size_bytes', 'usb') > 0);
    t.is(metric(body, 'tapstack_backup_last_verify_ok', 'usb'), 1);
    t.regex(body, /^tapstack_backup_duration_seconds\{[^}]*target="usb"/m);
    t.regex(body, /^tapstack_backup_config_valid\{[^}]*\} 1$/m);
    // Unchanged data: later runs add no backups.
    await new Promise((r) => setTimeout(r, 4500));
    t.is(fs.readdirSync(backups).length, 1, 'unchanged data: no new backups');
    t.regex(proc.output(), /unchanged since the previous backup: nothing uploaded/);
  } finally {
    t.is(await proc.stop(), 0, 'clean shutdown on SIGTERM');
  }
});

test('an invalid backup config: not ready, nothing scheduled, the problem logged', async (t) => {
  const app = makeAppliance({ targets: [] });
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [{ type: 'local', name: 'x', path: '/nowhere', schedule: 'daily' }] }));
  const port = await freePort();
  const proc = startProcess('backup/daemon/main.js', { ...app.env, TAPSTACK_BACKUP_PORT: String(port), TAPSTACK_LOG_LEVEL: 'info' });
  try {
    const r = await waitFor(async () => {
      const x = await get(port, '/readyz');
      return x.status ? x : undefined;
    }, 'backup probe', 10_000, 100);
    t.is(r.status, 503);
    t.regex(r.body, /invalid backup config/);
    t.regex((await get(port, '/metrics')).body, /^tapstack_backup_config_valid\{[^}]*\} 0$/m);
    t.regex(proc.output(), /targets\.0\.schedule: not a valid cron/);
  } finally {
    await proc.stop();
  }
});

test('no backup config at all: ready and idle', async (t) => {
  const app = makeAppliance({ targets: [] });
  fs.rmSync(app.configFile);
  const port = await freePort();
  const proc = startProcess('backup/daemon/main.js', { ...app.env, TAPSTACK_BACKUP_PORT: String(port), TAPSTACK_LOG_LEVEL: 'info' });
  try {
    await waitFor(async () => (await get(port, '/readyz')).status === 200, 'backup /readyz', 10_000, 100);
    t.regex(proc.output(), /no backup config: no backups are scheduled/);
  } finally {
    await proc.stop();
  }
});
