import BetterSqlite3 from 'better-sqlite3';
import path from 'node:path';
import { MIGRATIONS } from '../../services/shared/db/migrations/index.js';
import test from 'ava';
import { runCli } from '../helpers/cli.js';
import { tempDir, testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

let redis: TestRedis;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const ALICE = '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B';

async function preparedEnv(extra: Record<string, string> = {}) {
  const dataDir = tempDir();
  const env = testEnv({ dataDir, redis, extra: { TAPSTACK_LOG_LEVEL: 'info', ...extra } });
  const m = await runCli(['migrate'], env);
  if (m.code !== 0) throw new Error(m.stderr);
  return { dataDir, env };
}

async function getJson(url: string) {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as any };
}

test('the API process serves readiness, then drains and exits 0 on SIGTERM', async (t) => {
  const port = await freePort();
  const { env } = await preparedEnv({ TAPSTACK_HTTP_PORT: String(port) });
  const api = startProcess('services/api/main.js', env);
  t.teardown(() => api.stop('SIGKILL'));
  const ready = await waitFor(async () => {
    const r = await getJson(`http://127.0.0.1:${port}/readyz`);
    return r.status === 200 && r;
  }, 'api /readyz');
  t.like(ready.body, { status: 'ready', checks: { sqlite: { ok: true }, redis: { ok: true }, migrations: { ok: true, current: MIGRATIONS.length, latest: MIGRATIONS.length } } });
  t.is(await api.stop('SIGTERM'), 0);
  const log = api.output();
  t.regex(log, /"msg":"configuration loaded"/);
  t.regex(log, /"msg":"shutdown complete"/);
  // The config log line is masked: the Redis password never appears.
  t.false(log.includes(redis.password));
  t.regex(log, /"password":"(\[redacted\]|\*+)"/);
});

test('a process refuses to start on a database that is not migrated', async (t) => {
  const dataDir = tempDir();
  const api = startProcess('services/api/main.js', testEnv({ dataDir, redis, extra: { TAPSTACK_HTTP_PORT: String(await freePort()), TAPSTACK_LOG_LEVEL: 'info' } }));
  t.is(await api.exited, 1);
  t.regex(api.output(), /database schema is not current: run `tapstack migrate` first/);
});

test('a process with a bad configuration exits 78 listing every problem', async (t) => {
  const api = startProcess('services/api/main.js', { TAPSTACK_HTTP_PORT: '99999', TAPSTACK_SIWE_CHAIN_IDS: 'mainnet', TAPSTACK_DATA_DIR: tempDir() });
  t.is(await api.exited, 78);
  t.regex(api.output(), /TAPSTACK_HTTP_PORT/);
  t.regex(api.output(), /TAPSTACK_SIWE_CHAIN_IDS/);
});

test('the scheduler runs the integrity check on its cron and exports the result as metrics', async (t) => {
  const port = await freePort();
  const { dataDir, env } = await preparedEnv({ TAPSTACK_SCHEDULER_PORT: String(port), TAPSTACK_INTEGRITY_CRON: '* * * * * *' });
  await runCli(['account', 'credit', ALICE, '10', '--ref', 'd1'], env);
  const scheduler = startProcess('services/scheduler/main.js', env);
  t.teardown(() => scheduler.stop('SIGKILL'));

  const metric = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await res.text();
    return /^tapstack_integrity_ok\{[^}]*\} (\d)$/m.exec(text)?.[1];
  };
  t.is(await waitFor(async () => (await metric()) === '1' && '1', 'integrity_ok 1'), '1');
  const ready = await getJson(`http://127.0.0.1:${port}/readyz`);
  t.is(ready.status, 200);

  // Tamper behind the app's back: the next scheduled run must flag it.
  const raw = new BetterSqlite3(path.join(dataDir, 'tapstack.db'));
  raw.prepare('UPDATE users SET balance = balance + 1').run();
  raw.close();
  t.is(await waitFor(async () => (await metric()) === '0' && '0', 'integrity_ok 0'), '0');
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.regex(text, /^tapstack_integrity_problems\{[^}]*\} 1$/m);
  t.regex(text, /^tapstack_integrity_last_run_timestamp_seconds\{[^}]*\} \d{10}$/m);
  t.is(await scheduler.stop('SIGTERM'), 0);
  t.regex(scheduler.output(), /LEDGER INTEGRITY CHECK FAILED/);
});
