/**
 * What the health listener does on each tick, apart from the event protocol (listener.ts), so
 * it can be read in one place:
 *
 * - **Readiness-gated grace.** A program just (re)started is not probed for liveness until it first
 *   answered ready (its /readyz, Redis PING), however long that takes on a slow machine, up to
 *   `startBoundSeconds`; from then on only liveness counts.
 * - **Liveness, not readiness, restarts.** A program is restarted after `failures` consecutive
 *   failed liveness probes (no answer at all: dead, frozen, wedged). A program that answers but is
 *   not ready because a dependency is missing (a full disk, a Redis that cannot persist) is left
 *   alone: restarting it fixes nothing, and restarting Redis would throw away what it holds.
 * - **Nothing stays down.** A program that ended FATAL is started again with a growing back-off
 *   (its cause may be gone: space freed, Redis back), once what it waits for serves. A program
 *   this listener stopped is started again even if its start failed. A program an operator (or
 *   `tapstack backup restore --stop-services`) stopped is left stopped.
 * - Nothing at all while supervisord itself is shutting down.
 */
import type { Logger } from '../services/shared/logger.js';
import type { Probe, ProbeResult } from './probes.js';
import type { ProcessInfo, SupervisorClient } from './supervisor-rpc.js';

export interface SupervisionDeps {
  supervisor: Pick<SupervisorClient, 'allProcessInfo' | 'state' | 'signal' | 'stop' | 'start'>;
  probeFor(program: string): Probe | undefined;
  ready(probe: Probe): Promise<ProbeResult>;
  live(probe: Probe): Promise<ProbeResult>;
  log: Logger;
  /** Consecutive failed liveness probes before a restart. */
  failures: number;
  /** A program not ready this long after its start is probed for liveness anyway. */
  startBoundSeconds: number;
  /** First and largest delay between attempts to start a FATAL program again. */
  fatalRetrySeconds?: { first: number; max: number };
  /** Called after each tick with what the listener knows (written to health.json). */
  report?(state: HealthReport): void;
  /** Called when the listener restarts a program or starts a FATAL/stopped one again (metrics). */
  onAction?(action: { program: string; kind: 'restart' | 'start-again'; why: string }): void;
}

export interface ProgramHealth {
  state: string;
  pid: number;
  /** Seconds from its start to its first ready answer; absent until then. */
  readyAfterSeconds?: number;
  failures: number;
  /** Whether the last probe (readiness until first ready, then liveness) passed. */
  lastProbeOk?: boolean;
  detail?: string;
}

export interface HealthReport {
  at: number;
  programs: Record<string, ProgramHealth>;
}

interface Watch {
  instance: string;
  readyAt?: number;
  failures: number;
  lastOk?: boolean;
  detail?: string;
  boundLogged?: boolean;
}

export function createSupervision(deps: SupervisionDeps) {
  const retry = deps.fatalRetrySeconds ?? { first: 10, max: 300 };
  const watches = new Map<string, Watch>();
  const restarting = new Set<string>();
  /** Programs this listener stopped: they must run again. */
  const wanted = new Set<string>();
  const fatal = new Map<string, { attempts: number; nextAt: number }>();
  const { log } = deps;

  async function restart(name: string, why: string): Promise<void> {
    restarting.add(name);
    wanted.add(name);
    deps.onAction?.({ program: name, kind: 'restart', why });
    log.warn({ program: name, why, failures: watches.get(name)?.failures }, 'program unhealthy: restarting it');
    try {
      // A frozen (SIGSTOPped) process must run again to handle TERM and drain gracefully.
      await deps.supervisor.signal(name, 'CONT').catch(() => undefined);
      await deps.supervisor.stop(name).catch((err: Error) => log.warn({ program: name, err: err.message }, 'stop failed'));
      await deps.supervisor.start(name);
      wanted.delete(name);
      log.info({ program: name }, 'program restarted');
    } catch (err) {
      // Still wanted: the next tick starts it again.
      log.warn({ program: name, err: (err as Error).message }, 'restart did not complete; trying again on the next tick');
    } finally {
      watches.delete(name);
      restarting.delete(name);
    }
  }

  async function startAgain(name: string, why: string): Promise<void> {
    restarting.add(name);
    try {
      await deps.supervisor.start(name, false);
      wanted.delete(name);
      deps.onAction?.({ program: name, kind: 'start-again', why });
      log.warn({ program: name, why }, 'program started again');
    } catch (err) {
      log.warn({ program: name, why, err: (err as Error).message }, 'could not start the program again yet');
    } finally {
      restarting.delete(name);
    }
  }

  async function watchRunning(p: ProcessInfo, probe: Probe): Promise<void> {
    const instance = `${p.pid}:${p.start}`;
    let w = watches.get(p.name);
    if (!w || w.instance !== instance) {
      w = { instance, failures: 0 };
      watches.set(p.name, w);
    }
    const age = p.now - p.start;
    if (w.readyAt === undefined) {
      const r = await deps.ready(probe);
      w.detail = r.detail;
      w.lastOk = r.ok || r.serving;
      if (r.ok || r.serving) {
        w.readyAt = p.now;
        fatal.delete(p.name);
        log.info({ program: p.name, seconds: age }, 'program ready');
        return;
      }
      if (age < deps.startBoundSeconds) return;
      if (!w.boundLogged) {
        w.boundLogged = true;
        log.warn({ program: p.name, seconds: age, detail: r.detail }, 'program not ready since its start: probing its liveness from now on');
      }
    }
    const r = await deps.live(probe);
    w.detail = r.detail;
    w.lastOk = r.live;
    if (r.live) {
      w.failures = 0;
      return;
    }
    w.failures += 1;
    log.warn({ program: p.name, detail: r.detail, failures: w.failures }, 'liveness probe failed');
    if (w.failures >= deps.failures) void restart(p.name, r.detail);
  }

  /** Every dependency of an app program (Redis) serves, so starting it again can succeed. */
  function dependenciesServe(name: string, infos: ProcessInfo[]): boolean {
    if (name === 'redis') return true;
    const redis = infos.find((p) => p.name === 'redis');
    return !redis || (redis.statename === 'RUNNING' && watches.get('redis')?.readyAt !== undefined);
  }

  async function tick(): Promise<void> {
    // While supervisord stops everything (SIGTERM, `supervisorctl shutdown`), nothing is restarted.
    if ((await deps.supervisor.state()) !== 'RUNNING') return;
    const infos = await deps.supervisor.allProcessInfo();
    const nowSeconds = infos[0]?.now ?? Math.floor(Date.now() / 1000);
    await Promise.all(
      infos.map(async (p) => {
        const probe = deps.probeFor(p.name);
        if (!probe || restarting.has(p.name)) return;
        if (p.statename === 'RUNNING') return watchRunning(p, probe);
        watches.delete(p.name);
        if (p.statename === 'FATAL') {
          const f = fatal.get(p.name) ?? { attempts: 0, nextAt: nowSeconds };
          fatal.set(p.name, f);
          if (nowSeconds < f.nextAt || !dependenciesServe(p.name, infos)) return;
          f.attempts += 1;
          f.nextAt = nowSeconds + Math.min(retry.max, retry.first * 2 ** (f.attempts - 1));
          return startAgain(p.name, `FATAL (attempt ${f.attempts}; next in ${f.nextAt - nowSeconds} s if it fails again)`);
        }
        if (wanted.has(p.name) && (p.statename === 'STOPPED' || p.statename === 'EXITED')) return startAgain(p.name, 'stopped by the health listener');
      }),
    );
    deps.report?.({
      at: nowSeconds,
      programs: Object.fromEntries(
        infos
          .filter((p) => deps.probeFor(p.name))
          .map((p) => {
            const w = watches.get(p.name);
            const h: ProgramHealth = { state: p.statename, pid: p.pid, failures: w?.failures ?? 0 };
            if (w?.readyAt !== undefined) h.readyAfterSeconds = w.readyAt - p.start;
            if (w?.lastOk !== undefined) h.lastProbeOk = w.lastOk;
            if (w?.detail) h.detail = w.detail;
            return [p.name, h];
          }),
      ),
    });
  }

  return { tick };
}
