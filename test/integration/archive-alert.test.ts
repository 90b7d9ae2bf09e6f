/**
 * The archive's dead man's switch: the metric before and after the first archived week, and the
 * alert rule's promtool unit test (monitoring/prometheus/tests/archive.test.yml).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { createArchiveMetrics, refreshArchiveMetrics } from '../../backup/archive/metrics.js';
import { isoWeekEnd } from '../../services/shared/repos/archive.repo.js';
import { postMovement } from '../../services/shared/repos/ledger.repo.js';
import { ensureUser } from '../../services/shared/repos/users.repo.js';
import { freshDb, testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess } from '../helpers/process.js';
import { WEEK, accounts } from '../helpers/archive-fixture.js';

const run = promisify(execFile);

test('promtool: TapstackArchiveStale fires after 8 days without an archived week and not before', async (t) => {
  const r = await run('promtool', ['test', 'rules', 'monitoring/prometheus/tests/archive.test.yml']).catch((err: Error & { stdout?: string; stderr?: string; code?: string }) => {
    if (err.code === 'ENOENT') return t.fail('promtool is missing: apt-get install prometheus');
    return t.fail(`${err.stdout ?? ''}${err.stderr ?? ''}`);
  });
  if (r) t.regex(r.stdout + r.stderr, /SUCCESS/);
  const check = await run('promtool', ['check', 'rules', 'monitoring/prometheus/rules/archive.rules.yml']);
  t.regex(check.stdout, /SUCCESS: 1 rules found/);
});

test('before any archive the switch counts from the end of the first week with data (a new install does not alert)', async (t) => {
  const { db } = freshDb();
  const m = createArchiveMetrics();
  const value = async () => (await m.lastSuccess.get()).values[0]?.value;
  refreshArchiveMetrics(m, db, () => 1_700_000_000_000);
  t.is(await value(), 1_700_000_000, 'no data: not stale');
  const [a] = accounts(1);
  db.write(() => {
    ensureUser(db, a as string, isoWeekEnd(WEEK) - 1000);
    postMovement(db, { address: a as string, kind: 'credit', amount: 1, ref: 'x' }, isoWeekEnd(WEEK) - 1000);
  });
  refreshArchiveMetrics(m, db, () => 1_700_000_000_000);
  t.is(await value(), isoWeekEnd(WEEK) / 1000);
  db.close();
});

test('the archiver process serves the dead man\'s switch on its port and stops on SIGTERM (archival off: nothing archived)', async (t) => {
  const { dir, db } = freshDb();
  db.close();
  const port = await freePort();
  const proc = startProcess('backup/archive/main.js', testEnv({ dataDir: dir, extra: { TAPSTACK_ARCHIVE_PORT: String(port), TAPSTACK_REDIS_URL: 'redis://127.0.0.1:1/0' } }));
  try {
    const text = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      return r?.ok ? r.text() : undefined;
    }, `archiver metrics on ${port}: ${proc.output()}`);
    t.regex(text, /tapstack_archive_last_success_timestamp_seconds\{service="archiver"\} \d+/);
    t.regex(text, /tapstack_archive_weeks\{service="archiver"\} 0/);
    t.is((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  } finally {
    t.is(await proc.stop(), 0, proc.output());
  }
});
