/**
 * The supervisord event listener that enforces health (the policy is in supervision.ts): on each
 * TICK_5 it probes every program, restarts one that stopped answering, starts again one that ended
 * FATAL once its cause may be gone, and writes what it knows to `$TAPSTACK_RUN_DIR/health.json`.
 * On PROCESS_STATE_STOPPING of Redis it stops Redis without losing data (redis-stop.ts).
 * Protocol: READY on stdout; header line + payload on stdin; "RESULT 2\nOK" when done.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, logLevelFor } from '../services/shared/config.js';
import { createLogger } from '../services/shared/logger.js';
import { createEventProtocol } from './event-protocol.js';
import { createHealthMetrics } from './health-metrics.js';
import { probeFor, runLivenessProbe, runProbe } from './probes.js';
import { stopRedisGracefully } from './redis-stop.js';
import { createSupervision, type HealthReport } from './supervision.js';
import { createSupervisorClient } from './supervisor-rpc.js';

const config = loadConfig(process.env);
// stdout is the event protocol channel: logs go to stderr.
const log = createLogger({ service: 'health-listener', level: logLevelFor(config, 'health-listener'), destination: process.stderr });
const runDir = process.env.TAPSTACK_RUN_DIR ?? path.join(config.dataDir, 'run');
const supervisor = createSupervisorClient(path.join(runDir, 'supervisor.sock'));
const reportFile = path.join(runDir, 'health.json');

function writeReport(report: HealthReport): void {
  const tmp = `${reportFile}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify(report)}\n`);
    fs.renameSync(tmp, reportFile);
  } catch {
    // A full disk must not stop health enforcement: the report is information only.
    fs.rmSync(tmp, { force: true });
  }
}

const metrics = createHealthMetrics();
// Metrics are information only: a port in use must not stop health enforcement.
metrics.listen(config.workers.host, config.monitoring.healthMetricsPort, (err) => log.warn({ err: err.message }, 'health metrics listener failed'));

const supervision = createSupervision({
  supervisor,
  probeFor: (name) => probeFor(name, config),
  ready: (probe) => runProbe(probe, config, 2000),
  live: (probe) => runLivenessProbe(probe, config, 2000),
  log,
  failures: config.health.failures,
  // A program first waits up to TAPSTACK_START_TIMEOUT_SECONDS for its dependencies
  // (wait-for.sh), then needs its own start-up: on a slow machine, minutes.
  startBoundSeconds: config.health.startTimeoutSeconds + 120,
  report: (r) => {
    writeReport(r);
    metrics.report(r);
  },
  onAction: (a) => metrics.action(a),
});

/** supervisord refuses every XML-RPC call while it shuts down. */
const shuttingDown = (err: Error) => /SHUTDOWN_STATE/.test(err.message);

/** Stops Redis gracefully once on its PROCESS_STATE_STOPPING, with supervisord's stop wait for it. */
function createRedisStopper() {
  let stopWaitSeconds = 60;
  let stopping: Promise<void> | undefined;
  return {
    /** Read while supervisord still answers: during its shutdown it cannot be asked any more. */
    readStopWait: () =>
      supervisor.allConfigInfo().then(
        (infos) => void (stopWaitSeconds = infos.find((c) => c.name === 'redis')?.stopwaitsecs ?? stopWaitSeconds),
        () => undefined,
      ),
    /** In the background: the event must be acknowledged for supervisord to go on. */
    start(): void {
      if (stopping) return;
      stopping = stopRedisGracefully({
        config,
        log,
        stopWaitSeconds,
        stopping: () =>
          supervisor.processInfo('redis').then(
            (p) => p.statename === 'STOPPING',
            (err: Error) => (shuttingDown(err) ? undefined : false),
          ),
      })
        .catch((err: Error) => log.warn({ err: err.message }, 'stopping Redis gracefully failed'))
        .finally(() => (stopping = undefined));
    },
  };
}
const redisStopper = createRedisStopper();

async function handle(eventName: string, payload: string): Promise<void> {
  if (eventName.startsWith('TICK')) return supervision.tick();
  const name = /processname:(\S+)/.exec(payload)?.[1];
  if (eventName === 'PROCESS_STATE_STOPPING' && name === 'redis') redisStopper.start();
  if (eventName === 'PROCESS_STATE_FATAL') log.error({ program: name }, 'program is FATAL (it could not be kept running): the listener starts it again with a back-off');
}

async function failed(err: Error, eventName: string): Promise<void> {
  // supervisord shutting down (it refuses calls, then its socket goes) is ordinary: skip quietly.
  const stopping = shuttingDown(err) || (await supervisor.state().then((s) => s !== 'RUNNING', () => true));
  if (stopping) log.debug({ err: err.message, eventName }, 'supervisord is stopping: event skipped');
  else log.warn({ err: err.message, eventName }, 'event handling failed');
}

const events = createEventProtocol({ handle, failed, write: (text) => process.stdout.write(text), afterEvent: () => void redisStopper.readStopWait() });
process.stdin.on('data', (chunk: Buffer) => events.feed(chunk));
// supervisord stops its listener last, with SIGTERM: an ordinary stop, nothing to report.
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));

void redisStopper.readStopWait();
events.ready();
