/**
 * What every bench entry point reads from its environment, and the temporary directories of one
 * run: parsed and refused the same way by `npm run bench` and `npm run bench:soak`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installCleanup, stopAll } from './procs.js';

/** A positive whole number from `name`, or `fallback` when unset. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return Math.round(n);
}

/** A share (0 < n ≤ 2) from `name`, or `fallback` when unset. */
export function envShare(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 2) throw new Error(`${name}=${raw}: expected a share such as 0.5`);
  return n;
}

/** TAPSTACK_* in the caller's environment: they override the bench's service settings. */
export function serviceOverrides(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('TAPSTACK_') && v !== undefined)) as Record<string, string>;
}

/**
 * The temporary directories of one run, removed by `cleanUp` (after every process is stopped),
 * also on failure, unless `keep` (BENCH_KEEP=1), when it reports where they are.
 */
export function runDirs(keep: boolean, step: (s: string) => void) {
  const dirs: string[] = [];
  return {
    tempDir(prefix: string): string {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    async cleanUp(): Promise<void> {
      await stopAll();
      if (keep) step(`kept ${dirs.join(' and ')}`);
      else for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * Run a bench entry point: clean up on a signal, and after `main` ends or fails (every process
 * stopped, the run's directories removed), exit with its code (1 on a failure, printed as `name`).
 */
export function runEntry(name: string, main: () => Promise<number>, cleanUp: () => Promise<void>): void {
  installCleanup(cleanUp);
  main().then(
    async (code) => {
      await cleanUp();
      process.exit(code);
    },
    async (err: unknown) => {
      process.stderr.write(`${name} failed: ${(err as Error).stack ?? String(err)}\n`);
      await cleanUp();
      process.exit(1);
    },
  );
}
