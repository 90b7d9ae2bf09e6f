/**
 * Is the app running on THIS data directory? A restore must not swap files under a live writer.
 * The evidence, from strongest to weakest:
 *   - supervisord (AIO image, native run), through the XML-RPC socket in the run directory;
 *   - processes on this machine that have a file open, or their working directory, in the data
 *     directory (/proc/<pid>/fd and /proc/<pid>/cwd; the run directory and staging area, which a
 *     restore does not replace, do not count);
 *   - lock files in the data directory held by another process (SQLite-transaction locks like
 *     `.tapstack-setup.lock`: POSIX locks, so also seen across containers sharing the volume);
 *   - recent heartbeats in the database about to be replaced. Only their age is used, never their
 *     pids: a copy of another instance's database carries that instance's pids. A fresh heartbeat
 *     may be stale (a copy, a crash a moment ago) and is the one thing `--force` overrides; it is
 *     also the only sign of app containers in other pid namespaces (compose) that hold no lock.
 * `--stop-services` stops the AIO programs through supervisord, and starts them again afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openDb } from '../../services/shared/db/database.js';
import { heartbeatAges } from '../../services/shared/repos/heartbeats.repo.js';
import { createSupervisorClient, type ProcessInfo } from '../../healthchecks/supervisor-rpc.js';
import { BACKUP_LOCK_NAME } from './lock.js';

/** Programs that read or write the database or Redis (supervisord.conf), stopped in this order:
 *  the WAL shipper (`backup`) last, so it ships what the others committed. */
export const APP_PROGRAMS = ['api', 'realtime', 'ingest', 'quoter', 'resolver', 'writer', 'scheduler', 'backup', 'archiver'] as const;
export const HEARTBEAT_FRESH_MS = 30_000;

export interface DataUser {
  pid: number;
  command: string;
  /** Open files in the data directory (at most a few listed). */
  files: string[];
  /** Its working directory is in the data directory. */
  cwd: boolean;
}

export interface AppState {
  supervisor: { socket: string; reachable: boolean; running: string[]; redisRunning: boolean };
  /** Processes using the data directory; `procVisible` false when /proc cannot be read at all. */
  users: DataUser[];
  procVisible: boolean;
  /** Lock files in the data directory that another process holds. */
  locks: string[];
  heartbeats: { service: string; ageMs: number }[];
}

export interface InspectTarget {
  dataDir: string;
  dbFile: string;
  runDir: string;
  /** Other directories the restore replaces (a TLS volume outside the data dir). */
  alsoDirs?: string[];
  /** Directories inside the data dir that do not count (run dir, staging). */
  ignoreDirs?: string[];
}

export function supervisorSocket(runDir: string): string {
  return path.join(runDir, 'supervisor.sock');
}

export async function inspectApp(where: InspectTarget, now: number = Date.now()): Promise<AppState> {
  const socket = supervisorSocket(where.runDir);
  const state: AppState = { supervisor: { socket, reachable: false, running: [], redisRunning: false }, users: [], procVisible: false, locks: [], heartbeats: [] };
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
  const scan = dataDirUsers(where);
  state.users = scan.users;
  state.procVisible = scan.visible;
  state.locks = heldLocks(where.dataDir);
  if (fs.existsSync(where.dbFile)) {
    try {
      const db = openDb(where.dbFile, { readonly: true, busyTimeoutMs: 2000 });
      try {
        state.heartbeats = heartbeatAges(db, now);
      } finally {
        db.close();
      }
    } catch {
      /* unreadable database: nothing to learn from it */
    }
  }
  return state;
}

/**
 * Why the app counts as running: `blocking` (a live process, supervisord, a held lock: --force
 * cannot override) and `overridable` (fresh heartbeats, a working directory only: --force can).
 */
export function runningReasons(state: AppState, opts: { trustSupervisor: boolean }): { blocking: string[]; overridable: string[] } {
  const blocking: string[] = [];
  const overridable: string[] = [];
  if (state.supervisor.running.length) blocking.push(`supervisord runs ${state.supervisor.running.join(', ')}`);
  for (const u of state.users) {
    if (u.files.length) blocking.push(`pid ${u.pid} (${u.command}) has ${u.files.join(', ')}${u.files.length >= 3 ? ', ...' : ''} open`);
    else overridable.push(`pid ${u.pid} (${u.command}) has its working directory in the data directory`);
  }
  for (const l of state.locks) blocking.push(`another process holds the lock ${l}`);
  // When supervisord manages the app and reports it stopped, its old heartbeats are just recent.
  if (opts.trustSupervisor && state.supervisor.reachable) return { blocking, overridable };
  for (const h of state.heartbeats) {
    if (h.ageMs >= 0 && h.ageMs < HEARTBEAT_FRESH_MS) {
      overridable.push(`the database being replaced holds a heartbeat of ${h.service} from ${Math.round(h.ageMs / 1000)} s ago${state.procVisible ? ' (no process on this machine uses the data directory: another container, or a stale record)' : ''}`);
    }
  }
  return { blocking, overridable };
}

/** Processes (other than this one and its ancestors) with open files or their cwd in the data dir. */
function dataDirUsers(where: InspectTarget): { users: DataUser[]; visible: boolean } {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const roots = [where.dataDir, ...(where.alsoDirs ?? [])].map(real);
  const ignored = (where.ignoreDirs ?? []).map(real);
  const inside = (p: string, dir: string) => p === dir || p.startsWith(dir + path.sep);
  const counts = (p: string) => roots.some((r) => inside(p, r)) && !ignored.some((d) => inside(p, d));
  let pids: number[];
  try {
    pids = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
  } catch {
    return { users: [], visible: false };
  }
  const mine = ancestry();
  const users: DataUser[] = [];
  for (const pid of pids) {
    if (mine.has(pid)) continue;
    let cwd = false;
    const files: string[] = [];
    try {
      cwd = counts(fs.readlinkSync(`/proc/${pid}/cwd`));
    } catch {
      /* gone, or another user's */
    }
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      /* gone, or another user's */
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/ \(deleted\)$/, '');
      } catch {
        continue;
      }
      if (target.startsWith('/') && counts(target) && !files.includes(target)) files.push(target);
    }
    if (cwd || files.length) users.push({ pid, command: commandOf(pid), files: files.slice(0, 3), cwd });
  }
  return { users, visible: true };
}

/** This process and its ancestors (the shell that ran `tapstack`, bin/tapstack's wrapper...). */
function ancestry(): Set<number> {
  const out = new Set<number>([process.pid]);
  let pid = process.ppid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

function commandOf(pid: number): string {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd.length > 100 ? `${cmd.slice(0, 97)}...` : cmd || '?';
  } catch {
    return '?';
  }
}

/**
 * Lock files of the data directory (`*.lock`: SQLite files locked by an exclusive transaction, like
 * `writer.lock`, held by the writer for its whole life, or cli/setup/lock.ts's) that someone else
 * holds. Ours (the backup lock) is skipped. `admin.lock` is probed first and kept while the others
 * are probed: an admin command that finds `writer.lock` busy takes it for a running writer
 * (services/shared/writer-lock.ts), so our probe must not overlap its try.
 */
function heldLocks(dataDir: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dataDir).filter((e) => e.endsWith('.lock') && e !== BACKUP_LOCK_NAME);
  } catch {
    return [];
  }
  entries.sort((a, b) => (a === ADMIN_LOCK ? -1 : b === ADMIN_LOCK ? 1 : a < b ? -1 : 1));
  const held: string[] = [];
  const open: BetterSqlite3.Database[] = [];
  try {
    for (const e of entries) {
      const file = path.join(dataDir, e);
      let db: BetterSqlite3.Database | undefined;
      try {
        db = new BetterSqlite3(file, { fileMustExist: true, timeout: 0 });
        db.exec('BEGIN EXCLUSIVE');
        if (e === ADMIN_LOCK) {
          open.push(db);
          db = undefined;
        } else db.exec('ROLLBACK');
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_BUSY') held.push(file);
      } finally {
        db?.close();
      }
    }
  } finally {
    for (const db of open) {
      db.exec('ROLLBACK');
      db.close();
    }
  }
  return held;
}

const ADMIN_LOCK = 'admin.lock';

export async function stopPrograms(runDir: string, names: readonly string[]): Promise<void> {
  const client = createSupervisorClient(supervisorSocket(runDir), 60_000);
  for (const name of names) {
    await client.stop(name).catch((err: Error) => {
      if (!/NOT_RUNNING|BAD_NAME/.test(err.message)) throw err;
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
