/** Start a real Tapstack process (built output) and stop it by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { cleanProcessEnv } from './env.js';
import { track } from './reaper-client.js';

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function startProcess(script: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [path.join(process.cwd(), 'dist', script)], {
    env: { ...cleanProcessEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Dies with the test run even if the test process is killed before it can stop it.
  track(child.pid);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Whether a process with this PID exists (signal 0: nothing is sent). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
