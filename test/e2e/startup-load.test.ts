/**
 * First boot on a busy machine: with every core loaded by a CPU hog (bounded, started and killed
 * by this test), the native appliance comes up under supervisord without a single restart: starts
 * are gated on readiness (wait-for.sh), and the health listener does not probe a program's
 * liveness before it first answered ready, however long that takes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startAppliance, waitReady, type Appliance } from '../helpers/appliance.js';
import { track } from '../helpers/reaper-client.js';

let app: Appliance | undefined;
const hogs: ChildProcess[] = [];

function stopHogs(): void {
  for (const h of hogs) {
    try {
      process.kill(-(h.pid as number), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

test.after.always(async () => {
  stopHogs();
  await app?.stop();
});

test('first boot with every core busy: ready without a restart', async (t) => {
  t.timeout(10 * 60_000);
  // Two busy loops per core, each ending by itself after 5 minutes whatever happens to this test.
  for (let i = 0; i < 2 * Math.max(1, os.cpus().length); i += 1) {
    const h = spawn('timeout', ['300', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore', detached: true });
    track(h.pid);
    hogs.push(h);
  }
  const started = Date.now();
  app = await startAppliance({ readyTimeoutMs: 300_000 });
  await waitReady(app, 'every program ready under load', 300_000);
  const seconds = Math.round((Date.now() - started) / 1000);
  const health = app.health();
  const supervisorLog = fs.readFileSync(path.join(app.root, 'run', 'supervisord.log'), 'utf8');
  stopHogs();

  const ready = Object.fromEntries(Object.entries(health?.programs ?? {}).map(([name, h]) => [name, h.readyAfterSeconds]));
  t.log(`healthy ${seconds} s after start with ${hogs.length} busy loops on ${os.cpus().length} cores; seconds from start to ready: ${JSON.stringify(ready)}`);
  const spawns = [...supervisorLog.matchAll(/spawned: '([a-z]+)'/g)].map((m) => m[1]);
  const twice = spawns.filter((name, i) => spawns.indexOf(name) !== i);
  t.deepEqual(twice, [], 'no program was started more than once');
  t.notRegex(supervisorLog, /exited: |gave up: /);
  t.notRegex(app.output(), /program unhealthy: restarting it/);
});
