/**
 * The bench's last line of defence (bench/procs.ts installCleanup): interrupted, it stops what it
 * started by PID — also when the same signal comes again while it is stopping them (`pkill -f
 * bench/run.js` on `BENCH_RUNS=3 npm run bench` reaches a run directly and again from its parent;
 * so does a second Ctrl-C).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { waitFor } from '../helpers/ports.js';
import { pidAlive as alive } from '../helpers/process.js';
import { track } from '../helpers/reaper-client.js';

const procs = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bench/procs.js')).href;

// A "bench" with one child that ignores SIGTERM, so stopping it takes the 10 s grace and a SIGKILL.
const SCRIPT = `
import { installCleanup, start, stopAll } from ${JSON.stringify(procs)};
const c = start('stubborn', 'sh', ['-c', 'trap "" TERM; exec sleep 300']);
installCleanup(stopAll);
process.stdout.write('child ' + c.pid + '\\n');
setInterval(() => undefined, 1000);
`;

test('the same signal again during the cleanup does not cut it short: the child is stopped, the bench exits 130', async (t) => {
  const bench = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(bench.pid); // both die with the test run, even if it is killed before the teardown
  let out = '';
  let err = '';
  bench.stdout.on('data', (d: Buffer) => (out += d.toString()));
  bench.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => bench.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let childPid = 0;
  t.teardown(() => {
    if (bench.exitCode === null && bench.signalCode === null) bench.kill('SIGKILL');
    if (childPid && alive(childPid)) process.kill(childPid, 'SIGKILL');
  });
  childPid = Number(await waitFor(() => /child (\d+)/.exec(out)?.[1], 'the bench stand-in to start its child'));
  track(childPid);
  t.true(alive(childPid));

  bench.kill('SIGTERM');
  await waitFor(() => /SIGTERM, stopping the processes it started/.test(err), 'the cleanup to begin');
  bench.kill('SIGTERM'); // again, while the child is still holding out against its own SIGTERM
  t.is(await exited, 130, err);
  t.false(alive(childPid), 'the child the bench started is gone');
});
