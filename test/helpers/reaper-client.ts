/**
 * One reaper (reaper.ts) per test process, started on first use: every process a test starts dies
 * with the test run, even when ava's timeout or a SIGKILL ends the worker before its
 * `after.always` hooks run. Loaded into every ava worker by ava.config.js (`require`), so processes
 * started by any helper or test are covered; helpers also `track()` what they spawn, so a process
 * started moments before the worker died is not missed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let reaper: ChildProcess | undefined;

export function ensureReaper(): void {
  if (reaper) return;
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reaper.js');
  // Its own session: a signal to the test's process group (Ctrl-C) must leave the reaper to act.
  reaper = spawn(process.execPath, [script, String(process.pid)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.on('error', () => undefined);
  reaper.stdin?.on('error', () => undefined);
  // Neither the reaper nor its pipe may keep the test process alive.
  reaper.unref();
  (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
}

/** Make sure `pid` is killed if this test process ends while it still runs. */
export function track(pid: number | undefined): void {
  if (!pid) return;
  ensureReaper();
  reaper?.stdin?.write(`track ${pid}\n`);
}

export default function setup(): void {
  ensureReaper();
}
