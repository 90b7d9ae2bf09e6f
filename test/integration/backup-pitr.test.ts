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
  const scheduler = startProcess('backup/daemon/main.js', env);
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

/**
 * A WAL chain with a hole: `restore --at T` past it replays every intact segment, then fails
 * (exit 1) naming the missing segment and the exact time reached; `--accept-gap` restores exactly
 * to that point; a damaged segment fails with its own code. The shipper runs in this process with
 * long cut intervals, so each burst of commits is cut into its own segment by flush().
 */
test('a WAL chain with a hole: restore --at fails naming the gap and the time reached; --accept-gap restores exactly to the hole', async (t) => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { createTarget } = await import('../../backup/targets/index.js');
  const { createWalShipper, windowOf } = await import('../../backup/wal/index.js');
  const { createLogger } = await import('../../services/shared/logger.js');
  const app = makeAppliance({ targets: [], rows: 5 });
  const spec = localTarget(app.root);
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [spec] }, null, 2));
  const env = { ...app.env, TAPSTACK_BACKUP_CONTINUOUS: 'true' };
  const first = await runCli(['backup', 'create', '--json'], env);
  t.is(first.code, 0, first.stdout + first.stderr);

  const target = createTarget(spec);
  const shipper = createWalShipper({ dbFile: app.dbFile, target, encryption: { recipients: [app.recipient] }, log: createLogger({ service: 'test', level: 'silent' }), intervalMs: 600_000, scanMs: 20 });
  t.teardown(() => shipper.stop());
  await shipper.start();
  await waitFor(() => shipper.status().state === 'running', 'the shipper to store its base', 20_000);
  const db = openDb(app.dbFile, { synchronous: 'NORMAL', walAutocheckpoint: CONTINUOUS_WAL_AUTOCHECKPOINT_PAGES });
  const lastSegment = async () => (await windowOf(target))!.generations.at(-1)!.segments.at(-1)!;
  const bursts: { refs: string[]; segment: number; committedUntil: number }[] = [];
  for (let b = 0; b < 4; b++) {
    const refs = Array.from({ length: 6 }, (_, i) => `burst-${b}-${i}`);
    for (const ref of refs) adminMovement(db, { address: ADDRESSES[b % ADDRESSES.length] as string, direction: 'credit', amount: 100 + b, ref }, Date.now());
    await shipper.flush();
    const seg = await lastSegment();
    t.true(bursts.every((x) => x.segment < seg.index), 'each burst in its own segment');
    bursts.push({ refs, segment: seg.index, committedUntil: seg.committedUntil });
  }
  db.close();
  await shipper.stop();

  const hole = bursts[2]!;
  const segs = (await windowOf(target))!.generations.at(-1)!.segments;
  const victim = segs.find((s) => s.index === hole.segment)!;
  t.true(segs.some((s) => s.index > hole.segment), 'segments exist beyond the hole');
  fs.renameSync(path.join(spec.path, victim.key), path.join(app.root, 'moved-away.seg'));
  const reached = segs.filter((s) => s.index < hole.segment).at(-1)!.committedUntil;
  t.is(reached, bursts[1]!.committedUntil);
  const at = new Date(Date.now() + 1000).toISOString();
  const before = fs.readFileSync(app.dbFile);

  const dry = await runCli(['backup', 'restore', '--at', at, '--dry-run', '--identity', app.keyFile], env);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, new RegExp(`hole: segment ${hole.segment} of generation .* missing.*FAIL \\(pass --accept-gap`));

  const failed = await runCli(['backup', 'restore', '--at', at, '--identity', app.keyFile, '--json'], env);
  t.is(failed.code, 1, failed.stdout + failed.stderr);
  t.is(failed.json.error.code, 'missing-segment');
  const s = failed.json.error.details.shortfall;
  t.like(s, { kind: 'missing-segment', missing: { from: hole.segment, to: hole.segment }, reachedAt: reached, lostFrom: reached, lastIntact: { index: hole.segment - 1 } });
  t.is(s.resumesAt, segs.find((x) => x.index === hole.segment + 1)!.firstCommitAt);
  t.regex(failed.json.error.message, new RegExp(`lacks segment ${hole.segment} \\(the WAL after frame \\d+ of salts \\d+/\\d+, where segment ${hole.segment - 1} ends\\)`));
  t.true(failed.json.error.message.includes(`reached ${new Date(reached).toISOString()}`), failed.json.error.message);
  t.deepEqual(fs.readFileSync(app.dbFile), before, 'nothing was restored');
  const text = await runCli(['backup', 'restore', '--at', at, '--identity', app.keyFile], env);
  t.is(text.code, 1);
  t.regex(text.stderr, /pass --accept-gap to restore exactly to .*\[missing-segment\]$/m);

  const accepted = await runCli(['backup', 'restore', '--at', at, '--accept-gap', '--identity', app.keyFile, '--json'], env);
  t.is(accepted.code, 0, accepted.stdout + accepted.stderr);
  t.true(accepted.json.done);
  t.like(accepted.json.shortfall, { kind: 'missing-segment', reachedAt: reached });
  t.is(accepted.json.plan.restoresTo, reached);
  t.true(accepted.json.warnings.some((w: string) => w.startsWith('PARTIAL RESTORE (--accept-gap)')));
  const check = openDb(app.dbFile, { readonly: true });
  const refs = queryLedger(check, { limit: 1000 }).map((r) => r.ref);
  check.close();
  t.deepEqual(refs, [...Array.from({ length: 5 }, (_, i) => `seed-${i}`), ...bursts[0]!.refs, ...bursts[1]!.refs], 'exactly the commits before the hole');
  const again = await runCli(['backup', 'restore', '--at', at, '--accept-gap', '--identity', app.keyFile], env);
  t.regex(again.stdout, /PARTIAL \(--accept-gap\): the state of \S+, not the requested \S+ \[missing-segment\]/);

  // A damaged segment (before the hole) has its own code, and --accept-gap stops before it.
  fs.renameSync(path.join(app.root, 'moved-away.seg'), path.join(spec.path, victim.key));
  const damaged = segs.find((x) => x.index === bursts[1]!.segment)!;
  const file = path.join(spec.path, damaged.key);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length >> 1]! ^= 0x01;
  fs.writeFileSync(file, bytes);
  const corrupt = await runCli(['backup', 'restore', '--at', at, '--identity', app.keyFile, '--json'], env);
  t.is(corrupt.code, 1, corrupt.stdout);
  t.is(corrupt.json.error.code, 'corrupt-segment');
  t.true(corrupt.json.error.message.includes(damaged.key), 'names the damaged object');
  t.is(corrupt.json.error.details.shortfall.reachedAt, bursts[0]!.committedUntil);
  const short = await runCli(['backup', 'restore', '--at', at, '--accept-gap', '--identity', app.keyFile, '--json'], env);
  t.is(short.code, 0, short.stdout + short.stderr);
  t.is(short.json.plan.restoresTo, bursts[0]!.committedUntil);
});
