/** The health listener's policy (healthchecks/supervision.ts) against a scripted supervisord. */
import test from 'ava';
import pino from 'pino';
import type { Probe, ProbeResult } from '../../healthchecks/probes.js';
import { createSupervision } from '../../healthchecks/supervision.js';
import type { ProcessInfo } from '../../healthchecks/supervisor-rpc.js';

const OK: ProbeResult = { ok: true, serving: true, live: true, detail: 'ok' };
const NOT_READY: ProbeResult = { ok: false, serving: false, live: true, detail: 'HTTP 503' };
const DEAD: ProbeResult = { ok: false, serving: false, live: false, detail: 'ECONNREFUSED' };
const MISCONF: ProbeResult = { ok: false, serving: true, live: true, detail: 'MISCONF Errors writing to the AOF file' };

function rig(opts: { failures?: number; bound?: number } = {}) {
  const now = { t: 1000 };
  const procs = new Map<string, ProcessInfo>();
  const ready = new Map<string, ProbeResult>();
  const live = new Map<string, ProbeResult>();
  const calls: string[] = [];
  let state = 'RUNNING';
  const set = (name: string, statename: string, start = now.t) => procs.set(name, { name, statename, pid: 100 + procs.size, start, now: now.t });
  const supervision = createSupervision({
    supervisor: {
      state: async () => state,
      allProcessInfo: async () => [...procs.values()].map((p) => ({ ...p, now: now.t })),
      signal: async (name, sig) => (calls.push(`signal ${name} ${sig}`), true),
      stop: async (name) => (calls.push(`stop ${name}`), true),
      start: async (name) => {
        calls.push(`start ${name}`);
        set(name, 'RUNNING');
        return true;
      },
    },
    probeFor: (name) => ({ kind: name === 'redis' ? 'redis' : 'http', url: name, liveUrl: name }) as Probe,
    ready: async (p) => ready.get(p.kind === 'redis' ? 'redis' : p.url) ?? OK,
    live: async (p) => live.get(p.kind === 'redis' ? 'redis' : p.url) ?? OK,
    log: pino({ level: 'silent' }),
    failures: opts.failures ?? 3,
    startBoundSeconds: opts.bound ?? 180,
    fatalRetrySeconds: { first: 10, max: 40 },
  });
  const tick = async (seconds = 5) => {
    now.t += seconds;
    await supervision.tick();
    // Restarts run in the background: let them finish.
    await new Promise((r) => setImmediate(r));
  };
  return { now, set, ready, live, calls, tick, setState: (s: string) => (state = s) };
}

test('a slow starter is not probed for liveness before it first answered ready', async (t) => {
  const r = rig();
  r.set('api', 'RUNNING');
  r.ready.set('api', NOT_READY);
  r.live.set('api', DEAD);
  for (let i = 0; i < 20; i += 1) await r.tick(); // 100 s, far past any fixed grace
  t.deepEqual(r.calls, []);
  r.ready.set('api', OK);
  await r.tick();
  for (let i = 0; i < 3; i += 1) await r.tick();
  t.deepEqual(r.calls, ['signal api CONT', 'stop api', 'start api'], 'once ready, three failed liveness probes restart it');
});

test('a program never ready is probed for liveness after the upper bound', async (t) => {
  const r = rig({ bound: 60 });
  r.set('writer', 'RUNNING');
  r.ready.set('writer', NOT_READY);
  r.live.set('writer', DEAD);
  for (let i = 0; i < 12; i += 1) await r.tick();
  t.deepEqual(r.calls, []);
  for (let i = 0; i < 3; i += 1) await r.tick();
  t.true(r.calls.includes('start writer'));
});

test('not ready but alive (a full disk) is not restarted; Redis that cannot persist is not restarted', async (t) => {
  const r = rig();
  r.set('redis', 'RUNNING');
  r.set('writer', 'RUNNING');
  await r.tick();
  r.ready.set('writer', NOT_READY);
  r.live.set('writer', NOT_READY);
  r.ready.set('redis', MISCONF);
  r.live.set('redis', MISCONF);
  for (let i = 0; i < 20; i += 1) await r.tick();
  t.deepEqual(r.calls, []);
});

test('a FATAL program is started again with a growing back-off, once Redis serves', async (t) => {
  const r = rig();
  r.set('redis', 'STARTING');
  r.set('api', 'FATAL');
  await r.tick();
  t.deepEqual(r.calls, [], 'not while Redis does not serve');
  r.set('redis', 'RUNNING');
  await r.tick(); // Redis seen ready
  await r.tick();
  t.deepEqual(r.calls, ['start api']);
  r.set('api', 'FATAL');
  await r.tick(5);
  t.deepEqual(r.calls, ['start api'], 'waits 10 s before the second attempt');
  await r.tick(5);
  t.deepEqual(r.calls, ['start api', 'start api']);
  r.set('api', 'FATAL');
  await r.tick(15);
  t.is(r.calls.length, 2, 'then 20 s');
  await r.tick(5);
  t.is(r.calls.length, 3);
});

test('a program stopped by an operator stays stopped; nothing happens while supervisord shuts down', async (t) => {
  const r = rig();
  r.set('scheduler', 'STOPPED');
  r.set('api', 'FATAL');
  r.setState('SHUTDOWN');
  for (let i = 0; i < 5; i += 1) await r.tick();
  t.deepEqual(r.calls, []);
  r.setState('RUNNING');
  await r.tick();
  t.deepEqual(r.calls, ['start api'], 'the FATAL one only');
});
