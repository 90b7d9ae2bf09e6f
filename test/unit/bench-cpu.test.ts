/**
 * The bench's CPU accounting (bench/procs.ts): with more CPU-bound processes than cores, the
 * run-queue wait it reports is there, and a process that is gone reads as undefined.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import test from 'ava';
import { cpuSeconds, monitorCpu, runQueueSeconds } from '../../bench/procs.js';
import { waitFor } from '../helpers/ports.js';
import { track } from '../helpers/reaper-client.js';

test('more busy processes than cores: each waits for a CPU, and monitorCpu reports it', async (t) => {
  const spinners: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of spinners) c.kill('SIGKILL');
  });
  for (let i = 0; i <= os.cpus().length; i++) {
    const c = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    track(c.pid);
    spinners.push(c);
  }
  const pids = spinners.map((c) => c.pid as number);
  const mon = monitorCpu({ spinners: pids });
  // However busy the machine is otherwise, n + 1 spinners on n cores queue for them.
  await waitFor(() => pids.every((p) => (runQueueSeconds(p) ?? 0) > 0.02) && pids.every((p) => (cpuSeconds(p) ?? 0) > 0.2), 'the spinners to run and to wait', 60_000, 100);
  const use = mon.stop();
  t.true((use.perProcess.spinners ?? 0) > 0, `cpu ${use.perProcess.spinners}`);
  t.true((use.waiting.spinners ?? 0) > 0, `waiting ${use.waiting.spinners}`);
  t.true(use.steal >= 0);
  for (const c of spinners) c.kill('SIGKILL');
  await Promise.all(spinners.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once('exit', r)))));
  t.is(runQueueSeconds(pids[0] as number), undefined, 'a process that is gone');
});
