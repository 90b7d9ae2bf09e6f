/**
 * Point-in-time restore through the product: the backup scheduler process ships the WAL
 * continuously while ledger rows are written over time; `tapstack backup restore --at T` then gives
 * exactly the rows committed up to T.
 */
import test from 'ava';
import { adminMovement } from '../../services/shared/accounts.js';
import { CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES, openDb } from '../../services/shared/db/database.js';
import { queryLedger } from '../../services/shared/repos/ledger.repo.js';
import { runCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess } from '../helpers/process.js';
import { ADDRESSES, localTarget, makeAppliance } from './backup-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('restore --at T gives exactly the ledger rows committed up to T', async (t) => {
  const app = makeAppliance({ targets: [], rows: 5 });
  const target = localTarget(app.root);
  const fs = await import('node:fs');
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }, null, 2));
  const port = await freePort();
  const env = { ...app.env, TAPSTACK_BACKUP_CONTINUOUS: 'true', TAPSTACK_BACKUP_CONTINUOUS_INTERVAL_MS: '300', TAPSTACK_BACKUP_PORT: String(port), TAPSTACK_LOG_LEVEL: 'info' };

  const first = await runCli(['backup', 'create', '--json'], env);
  t.is(first.code, 0, first.stdout + first.stderr);
  const scheduler = startProcess('backup/scheduler/main.js', env);
  t.teardown(() => scheduler.stop('SIGKILL'));
  await waitFor(() => /continuous WAL shipping started/.test(scheduler.output()), 'shipper started', 20_000);

  // The application's connection, as in continuous mode: the shipper owns checkpoints.
  const db = openDb(app.dbFile, { synchronous: 'NORMAL', walAutocheckpoint: CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES });
  const commits: { ref: string; at: number }[] = [];
  for (let i = 0; i < 8; i += 1) {
    const ref = `pitr-${i}`;
    adminMovement(db, { address: ADDRESSES[i % ADDRESSES.length] as string, direction: 'credit', amount: 1_000 + i, ref }, Date.now());
    commits.push({ ref, at: Date.now() });
    await sleep(700);
  }
  db.close();
  await sleep(2_500); // well past the RPO: every commit is shipped
  t.is(await scheduler.stop('SIGTERM'), 0, scheduler.output().slice(-2000));

  // T between the 4th and 5th commit (350 ms after the 4th, 350 ms before the 5th).
  const at = new Date((commits[3] as { at: number }).at + 350).toISOString();
  const dry = await runCli(['backup', 'restore', '--at', at, '--dry-run', '--identity', app.keyFile, '--json'], env);
  t.is(dry.code, 0, dry.stdout + dry.stderr);
  const restored = await runCli(['backup', 'restore', '--at', at, '--identity', app.keyFile, '--json'], env);
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  const check = openDb(app.dbFile, { readonly: true });
  t.teardown(() => check.close());
  const refs = queryLedger(check, { limit: 100 }).map((r) => r.ref).filter((r) => r.startsWith('pitr-'));
  t.deepEqual(refs, ['pitr-0', 'pitr-1', 'pitr-2', 'pitr-3']);
  const integrity = await runCli(['integrity', 'check'], env);
  t.is(integrity.code, 0, integrity.stdout);
});
