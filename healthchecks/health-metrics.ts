/**
 * The health listener's own /metrics (AIO and native run): what it last saw of every program and
 * what it did about it, so Prometheus can alert on restarts and dashboards show probe results.
 * Served on TAPSTACK_WORKER_HOST:TAPSTACK_HEALTH_METRICS_PORT; compose has no health listener
 * (Docker runs the health checks there).
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { collectStandardMetrics } from '../services/shared/metrics.js';
import type { HealthReport } from './supervision.js';

export function createHealthMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'health-listener' });
  collectStandardMetrics(registry);
  const registers = [registry];
  const running = new Gauge({ name: 'tapstack_health_program_running', help: '1 if supervisord reports the program RUNNING', labelNames: ['program'], registers });
  const probeOk = new Gauge({ name: 'tapstack_health_probe_ok', help: '1 if the last health probe of the program passed (readiness until first ready, then liveness)', labelNames: ['program'], registers });
  const failures = new Gauge({ name: 'tapstack_health_probe_failures', help: 'Consecutive failed liveness probes of the program', labelNames: ['program'], registers });
  const readyAfter = new Gauge({ name: 'tapstack_health_ready_after_seconds', help: 'Seconds from the program start to its first ready answer', labelNames: ['program'], registers });
  const actions = new Counter({ name: 'tapstack_health_restarts_total', help: 'Programs the health listener restarted (restart) or started again after FATAL/stop (start-again)', labelNames: ['program', 'kind'], registers });
  const lastTick = new Gauge({ name: 'tapstack_health_last_tick_timestamp_seconds', help: 'When the health listener last probed every program', registers });

  return {
    registry,
    report(r: HealthReport): void {
      lastTick.set(r.at);
      for (const [program, h] of Object.entries(r.programs)) {
        running.set({ program }, h.state === 'RUNNING' ? 1 : 0);
        if (h.lastProbeOk !== undefined) probeOk.set({ program }, h.lastProbeOk ? 1 : 0);
        failures.set({ program }, h.failures);
        if (h.readyAfterSeconds !== undefined) readyAfter.set({ program }, h.readyAfterSeconds);
        // Present from the start, so increase() sees the first restart.
        actions.inc({ program, kind: 'restart' }, 0);
        actions.inc({ program, kind: 'start-again' }, 0);
      }
    },
    action(a: { program: string; kind: 'restart' | 'start-again' }): void {
      actions.inc({ program: a.program, kind: a.kind });
    },
    listen(host: string, port: number, onError: (err: Error) => void): Server {
      const server = createServer((req, res) => {
        if (req.method !== 'GET' || req.url !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        void registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        });
      });
      server.on('error', onError);
      server.listen(port, host);
      return server;
    },
  };
}
