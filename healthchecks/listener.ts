/**
 * The supervisord event listener that enforces health. supervisord only restarts processes that
 * exit; this listener probes every RUNNING program on each TICK_5 with the same probes compose
 * uses and restarts a program after TAPSTACK_HEALTH_FAILURES consecutive failed probes (a frozen or wedged
 * process answers nothing). When any program goes FATAL it shuts supervisord down, so the
 * container exits and Docker's restart policy takes over.
 * Protocol: READY on stdout; header line + payload on stdin; "RESULT 2\nOK" when done.
 */
import path from 'node:path';
import { loadConfig } from '../services/shared/config.js';
import { createLogger } from '../services/shared/logger.js';
import { probeFor, runProbe } from './probes.js';
import { createSupervisorClient } from './supervisor-rpc.js';

const config = loadConfig(process.env);
const FAILURES = config.health.failures;
/** A program just (re)started gets this long before its probes count. */
const GRACE_SECONDS = 15;
// stdout is the event protocol channel: logs go to stderr.
const log = createLogger({ service: 'health-listener', level: config.logLevel, destination: process.stderr });
const runDir = process.env.TAPSTACK_RUN_DIR ?? path.join(config.dataDir, 'run');
const supervisor = createSupervisorClient(path.join(runDir, 'supervisor.sock'));
const failures = new Map<string, number>();
const restarting = new Set<string>();

async function restart(name: string, why: string): Promise<void> {
  restarting.add(name);
  log.warn({ program: name, why, failures: failures.get(name) }, 'program unhealthy: restarting it');
  try {
    // A frozen (SIGSTOPped) process must run again to handle TERM and drain gracefully.
    await supervisor.signal(name, 'CONT').catch(() => undefined);
    await supervisor.stop(name).catch((err: Error) => log.warn({ program: name, err: err.message }, 'stop failed'));
    await supervisor.start(name);
    log.info({ program: name }, 'program restarted');
  } catch (err) {
    log.error({ program: name, err: (err as Error).message }, 'restart failed');
  } finally {
    failures.delete(name);
    restarting.delete(name);
  }
}

async function tick(): Promise<void> {
  const infos = await supervisor.allProcessInfo();
  await Promise.all(
    infos.map(async (p) => {
      const probe = probeFor(p.name, config);
      if (!probe || restarting.has(p.name)) return;
      if (p.statename !== 'RUNNING' || p.now - p.start < GRACE_SECONDS) {
        failures.delete(p.name);
        return;
      }
      const r = await runProbe(probe, config, 2000);
      if (r.ok) return void failures.delete(p.name);
      const n = (failures.get(p.name) ?? 0) + 1;
      failures.set(p.name, n);
      log.warn({ program: p.name, detail: r.detail, failures: n }, 'health probe failed');
      if (n >= FAILURES) void restart(p.name, r.detail);
    }),
  );
}

async function handle(eventName: string, payload: string): Promise<void> {
  if (eventName.startsWith('TICK')) await tick();
  else if (eventName === 'PROCESS_STATE_FATAL') {
    const name = /processname:(\S+)/.exec(payload)?.[1];
    log.fatal({ program: name }, 'program is FATAL (could not be kept running): stopping the container so its restart policy takes over');
    await supervisor.shutdown();
  }
}

let buffer = Buffer.alloc(0);
let busy = false;
const ready = () => process.stdout.write('READY\n');

process.stdin.on('data', (chunk: Buffer) => {
  buffer = Buffer.concat([buffer, chunk]);
  void drain();
});

async function drain(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    for (;;) {
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      const header = buffer.subarray(0, nl).toString();
      const len = Number(/len:(\d+)/.exec(header)?.[1] ?? 0);
      if (buffer.length < nl + 1 + len) return;
      const payload = buffer.subarray(nl + 1, nl + 1 + len).toString();
      buffer = buffer.subarray(nl + 1 + len);
      const eventName = /eventname:(\S+)/.exec(header)?.[1] ?? '';
      try {
        await handle(eventName, payload);
      } catch (err) {
        log.error({ err: (err as Error).message, eventName }, 'event handling failed');
      }
      process.stdout.write('RESULT 2\nOK');
      ready();
    }
  } finally {
    busy = false;
  }
}

ready();
