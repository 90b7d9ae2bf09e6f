/**
 * Minimal HTTP probe for worker processes: /healthz (alive), /readyz (the process's own readiness
 * check), /metrics. Used by healthchecks/ and Prometheus; no framework needed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { registerReadiness, type Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';

export function createProbeHandler(deps: { metrics: Pick<Metrics, 'registry'>; ready: () => Promise<Readiness> }) {
  registerReadiness(deps.metrics.registry, deps.ready);
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (req.method !== 'GET') return json(res, 405, { error: { code: 'method-not-allowed', message: 'GET only' } });
      switch (req.url) {
        case '/healthz':
          return json(res, 200, { status: 'ok' });
        case '/readyz': {
          const r = await deps.ready();
          return json(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not-ready', checks: r.checks });
        }
        case '/metrics':
          res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
          return res.end(await deps.metrics.registry.metrics());
        default:
          return json(res, 404, { error: { code: 'not-found', message: 'no such probe' } });
      }
    })().catch(() => json(res, 500, { error: { code: 'internal', message: 'internal error' } }));
  };
}
