/**
 * Every process a test starts dies with the test run: a stand-in test process starts a real
 * redis-server (through the helper, tracked) and a `sleep` (not tracked, found by the reaper's
 * scan), then is SIGKILLed, so no `after.always` hook can run.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import { waitFor } from '../helpers/ports.js';
import { pidAlive as alive } from '../helpers/process.js';

test('a SIGKILLed test process leaves nothing running', async (t) => {
  const worker = spawn(process.execPath, [path.join(process.cwd(), 'dist', 'test', 'fixtures', 'reaper', 'worker.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  worker.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const pids = await waitFor(() => /^pids (\d+) (\d+)$/m.exec(out)?.slice(1).map(Number), 'the stand-in to start its processes', 30_000);
  t.true(pids.every(alive));
  // The untracked one is found by the reaper's scan, every 250 ms: its contract covers a process
  // that lived that long, so give it that (a minimum, not a guess at how slow the machine is).
  await new Promise((r) => setTimeout(r, 600));
  worker.kill('SIGKILL');
  await waitFor(() => pids.every((p) => !alive(p)), 'redis-server and the untracked process gone', 30_000, 100);
  t.pass();
});
