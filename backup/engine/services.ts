/**
 * Is the app running on this data directory? A restore must not swap files under a live writer.
 * Two sources: supervisord (AIO image, native run) through its XML-RPC socket, and the heartbeats
 * table every process writes on each readiness probe (compose, or processes started by hand) — a
 * recent heartbeat, or one whose process is still alive on this machine, means "running".
 * `--stop-services` stops the AIO programs through supervisord, and starts them again afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createSupervisorClient, type ProcessInfo } from '../../healthchecks/supervisor-rpc.js';

/** Programs that read or write the database or Redis (supervisord.conf), stopped in this order. */
export const APP_PROGRAMS = ['api', 'realtime', 'ingest', 'quoter', 'resolver', 'writer', 'scheduler'] as const;
export const HEARTBEAT_FRESH_MS = 30_000;

export interface AppState {
  supervisor: { socket: string; reachable: boolean; running: string[]; redisRunning: boolean };
  heartbeats: { service: string; pid: number; ageMs: number; alive: boolean }[];
}

export function supervisorSocket(runDir: string): string {
  return path.join(runDir, 'supervisor.sock');
}

export async function inspectApp(dbFile: string, runDir: string, now: number = Date.now()): Promise<AppState> {
  const socket = supervisorSocket(runDir);
  const state: AppState = { supervisor: { socket, reachable: false, running: [], redisRunning: false }, heartbeats: [] };
  if (fs.existsSync(socket)) {
    try {
      const infos: ProcessInfo[] = await createSupervisorClient(socket, 3000).allProcessInfo();
      state.supervisor.reachable = true;
      const active = (p: ProcessInfo) => ['RUNNING', 'STARTING', 'BACKOFF', 'STOPPING'].includes(p.statename);
      state.supervisor.running = infos.filter((p) => active(p) && (APP_PROGRAMS as readonly string[]).includes(p.name)).map((p) => p.name);
      state.supervisor.redisRunning = infos.some((p) => p.name === 'redis' && active(p));
    } catch {
      /* a stale socket of a stopped supervisord */
    }
  }
  if (fs.existsSync(dbFile)) {
    try {
      const db = new BetterSqlite3(dbFile, { readonly: true, fileMustExist: true, timeout: 2000 });
      try {
        const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'heartbeats'").get();
        const rows = has ? (db.prepare('SELECT service, pid, beat_at FROM heartbeats').all() as { service: string; pid: number; beat_at: number }[]) : [];
        state.heartbeats = rows.map((r) => ({ service: r.service, pid: r.pid, ageMs: now - r.beat_at, alive: isTapstackProcess(r.pid) }));
      } finally {
        db.close();
      }
    } catch {
      /* unreadable database: nothing to learn from it */
    }
  }
  return state;
}

/** Reasons the app counts as running, given what we stopped ourselves. */
export function runningReasons(state: AppState, opts: { trustSupervisor: boolean }): string[] {
  const reasons: string[] = [];
  if (state.supervisor.running.length) reasons.push(`supervisord runs ${state.supervisor.running.join(', ')}`);
  // When supervisord manages the app and reports it stopped, its old heartbeats are just recent.
  if (opts.trustSupervisor && state.supervisor.reachable) return reasons;
  for (const h of state.heartbeats) {
    if (h.alive) reasons.push(`${h.service} (pid ${h.pid}) is alive`);
    else if (h.ageMs >= 0 && h.ageMs < HEARTBEAT_FRESH_MS) reasons.push(`${h.service} wrote a heartbeat ${Math.round(h.ageMs / 1000)} s ago`);
  }
  return reasons;
}

/** A live process on this machine running one of our services (pid namespaces differ in compose). */
function isTapstackProcess(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return /dist\/services\/[a-z]+\/main\.js/.test(cmdline);
  } catch {
    return false;
  }
}

export async function stopPrograms(runDir: string, names: readonly string[]): Promise<void> {
  const client = createSupervisorClient(supervisorSocket(runDir), 60_000);
  for (const name of names) {
    await client.stop(name).catch((err: Error) => {
      if (!/NOT_RUNNING/.test(err.message)) throw err;
    });
  }
}

export async function startPrograms(runDir: string, names: readonly string[]): Promise<string[]> {
  const client = createSupervisorClient(supervisorSocket(runDir), 60_000);
  const failed: string[] = [];
  for (const name of names) {
    await client.start(name).catch((err: Error) => {
      if (!/ALREADY_STARTED/.test(err.message)) failed.push(`${name}: ${err.message}`);
    });
  }
  return failed;
}
