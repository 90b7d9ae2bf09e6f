/** Run the admin CLI exactly as an operator does: `bin/tapstack ...` (built output). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { cleanProcessEnv } from './env.js';

export const REPO = process.cwd();
export const TAPSTACK_BIN = path.join(REPO, 'bin', 'tapstack');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCommand(TAPSTACK_BIN, args, env);
}

/** Run any command with a clean environment plus `env`; stdout parsed as JSON when it is JSON. */
export function runCommand(command: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...cleanProcessEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: any;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
  });
}
