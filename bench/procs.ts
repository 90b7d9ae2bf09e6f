/**
 * Child processes of the bench: started as real processes, tracked by PID, and always stopped by
 * PID at the end — on success, on a thrown error, on Ctrl-C. Plus per-process CPU from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface Child {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Everything the process printed (stdout + stderr), for error messages. */
  output(): string;
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
}

const running = new Set<Child>();

/** The process environment without TAPSTACK_* (the bench sets exactly what each process gets). */
export function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TAPSTACK_') && !k.startsWith('BENCH_') && v !== undefined) out[k] = v;
  return out;
}

export interface StartOptions {
  /**
   * Send stdout and stderr to this file instead of a pipe (nginx: Linux cannot open /dev/stdout on
   * the socketpair Node gives a child); `output()` then reads the file's tail.
   */
  logFile?: string;
  /** Start it in its own process group (a master with workers): the last-resort kill takes the group. */
  group?: boolean;
}

export function start(name: string, command: string, args: string[], env: Record<string, string> = cleanEnv(), so: StartOptions = {}): Child {
  const fd = so.logFile === undefined ? undefined : fs.openSync(so.logFile, 'a');
  const child = spawn(command, args, { env, stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd], detached: so.group === true });
  if (fd !== undefined) fs.closeSync(fd);
  let out = '';
  // Keep the tail only: a chatty process must not grow the bench's memory.
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const spawnFailed = new Promise<never>((_, reject) => child.on('error', reject));
  spawnFailed.catch(() => undefined);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const c: Child = {
    name,
    pid: child.pid,
    child,
    output: () => (so.logFile === undefined ? out : tail(so.logFile)),
    exited,
    stop: async (graceMs = 15_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(c.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) kill(c, 'SIGKILL');
        }, graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
  if (so.group) groups.add(c.pid);
  running.add(c);
  void exited.then(() => running.delete(c));
  return c;
}

/** PIDs started as their own process group: a SIGKILL goes to the whole group. */
const groups = new Set<number>();
function kill(c: Child, signal: NodeJS.Signals): void {
  process.kill(groups.has(c.pid) ? -c.pid : c.pid, signal);
}

function tail(file: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.length > 100_000 ? text.slice(-100_000) : text;
  } catch {
    return '';
  }
}

/** The PIDs whose parent is `pid` (e.g. nginx's workers), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** A compiled Tapstack or bench script (path relative to dist/), with optional node flags. */
export function startNode(name: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): Child {
  return start(name, process.execPath, [...nodeArgs, `dist/${script}`], { ...cleanEnv(), ...env });
}

/** Wait until the process prints `pattern`, or fail with its output if it exits first. */
export function waitForOutput(c: Child, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => done(new Error(`${c.name} did not print ${pattern} within ${timeoutMs} ms:\n${c.output()}`)), timeoutMs);
    const poll = setInterval(() => pattern.test(c.output()) && done(), 20);
    void c.exited.then((code) => done(new Error(`${c.name} exited (${code}) before it was ready:\n${c.output()}`)));
    let settled = false;
    function done(err?: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearInterval(poll);
      if (err) reject(err);
      else resolve();
    }
  });
}

/** Stop every child still running, newest first (load generators before the services they load). */
export async function stopAll(): Promise<void> {
  for (const c of [...running].reverse()) await c.stop(10_000).catch(() => undefined);
}

/** Last resort when the bench itself dies: SIGKILL whatever is left, synchronously. */
export function installCleanup(onSignal: () => Promise<void>): void {
  process.on('exit', () => {
    for (const c of running) {
      try {
        kill(c, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
  onStopSignal((signal) => {
    process.stderr.write(`\nbench: ${signal}, stopping the processes it started\n`);
    void onSignal().finally(() => process.exit(130));
  });
}

/**
 * Call `stop` on the first SIGINT or SIGTERM, and ignore every later one. Not `process.once`:
 * `pkill -f bench/run.js` reaches a BENCH_RUNS run directly and again from its parent (SIGTERM
 * twice), and a second signal left to its default would kill the process mid-cleanup and leave
 * what it started running.
 */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop(signal);
    });
  }
}

/** How busy the machine is right now (% of all cores over `ms`): other load skews every figure. */
export async function machineLoad(ms = 2000): Promise<number> {
  const a = machineBusySeconds();
  const t = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((machineBusySeconds() - a) / ((performance.now() - t) / 1000) / os.cpus().length) * 100;
}

// ---- CPU accounting -------------------------------------------------------------------------

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/**
 * user + system CPU seconds a process has used so far (all its threads; with `children`, also the
 * children it has reaped, e.g. Redis's RDB and AOF-rewrite forks), or undefined if gone.
 */
export function cpuSeconds(pid: number, children = false): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) "; comm may contain spaces, so split after the last ')'.
    // utime stime cutime cstime are fields 14-17 of proc(5).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]);
    return (children ? own + Number(f[13]) + Number(f[14]) : own) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Seconds the threads of a process have spent runnable but waiting for a CPU (the scheduler's run
 * queue, /proc/<pid>/task/<tid>/schedstat), summed over the threads alive now; undefined if gone.
 */
export function runQueueSeconds(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return ns / 1e9;
  } catch {
    return undefined;
  }
}

const machineTicks = (): number[] => (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const v = machineTicks();
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - (v[3] ?? 0) - (v[4] ?? 0)) / TICKS_PER_SECOND;
}

/** CPU seconds the hypervisor gave to someone else while this machine's vCPUs wanted to run (steal). */
export function machineStealSeconds(): number {
  return (machineTicks()[7] ?? 0) / TICKS_PER_SECOND;
}

export interface CpuUse {
  /** % of one core, per process, over the time the process was seen alive in the window. */
  perProcess: Record<string, number>;
  /** Busy share of the whole machine, % of all cores. */
  machine: number;
  /** Busy CPU not used by the monitored processes (other programs, kernel threads), % of one core. */
  other: number;
  /**
   * Per process, the time its threads were runnable but waiting for a CPU, as % of one core (100 %
   * = on average one of its threads waited all the time): the cost of sharing the cores.
   */
  waiting: Record<string, number>;
  /** Time the hypervisor ran something else while this machine's vCPUs wanted to run, % of one core (counted in machine busy). */
  steal: number;
  cores: number;
}

/**
 * Sample the CPU time of some processes every `everyMs` until `stop()`. Polling (rather than two
 * snapshots) still accounts for a process that exits inside the window, like wrk at its end.
 * Processes named in `withChildren` are charged for the children they reap (their forks).
 */
export function monitorCpu(pids: Record<string, number | number[]>, withChildren: string[] = [], everyMs = 250): { stop(): CpuUse } {
  type Seen = { cpu: number; wait: number; at: number };
  const first = new Map<string, Seen>();
  const last = new Map<string, Seen>();
  const machineFirst = { busy: machineBusySeconds(), steal: machineStealSeconds(), at: performance.now() };
  const sum = (xs: (number | undefined)[]) => xs.reduce((a: number, b) => a + (b ?? 0), 0);
  const sample = () => {
    const at = performance.now();
    for (const [name, p] of Object.entries(pids)) {
      // A group (nginx's master and workers) counts as one process: the sum of those alive.
      const group = Array.isArray(p) ? p : [p];
      const each = group.map((pid) => cpuSeconds(pid, withChildren.includes(name)));
      if (each.every((x) => x === undefined)) continue;
      const seen = { cpu: sum(each), wait: sum(group.map(runQueueSeconds)), at };
      if (!first.has(name)) first.set(name, seen);
      last.set(name, seen);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const perProcess: Record<string, number> = {};
      const waiting: Record<string, number> = {};
      for (const [name, a] of first) {
        const b = last.get(name) as Seen;
        if (b.at <= a.at) continue;
        const seconds = (b.at - a.at) / 1000;
        perProcess[name] = ((b.cpu - a.cpu) / seconds) * 100;
        // Threads that ended inside the window take their wait with them: never below zero.
        waiting[name] = Math.max(0, ((b.wait - a.wait) / seconds) * 100);
      }
      const cores = os.cpus().length;
      const wall = (performance.now() - machineFirst.at) / 1000;
      const busy = ((machineBusySeconds() - machineFirst.busy) / wall) * 100;
      const steal = ((machineStealSeconds() - machineFirst.steal) / wall) * 100;
      const ours = Object.values(perProcess).reduce((a, b) => a + b, 0);
      return { perProcess, machine: busy / cores, other: Math.max(0, busy - ours), waiting, steal, cores };
    },
  };
}
