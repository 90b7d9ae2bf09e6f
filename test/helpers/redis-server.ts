/**
 * A real redis-server for one test file: loopback, free port, throwaway directory, password set,
 * stopped by PID when the test file ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './ports.js';
import { track } from './reaper-client.js';

export interface TestRedis {
  port: number;
  url: string;
  password: string;
  dir: string;
  pid: number;
  /** SIGKILL the server (simulate a crash). */
  kill(): Promise<void>;
  /** Start it again on the same port and directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `persistent: true` runs with AOF (fsync every write) like a production Redis that must survive a
 * restart with nothing lost; the default keeps nothing on disk.
 */
export async function startRedis(opts: { persistent?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-redis-'));
  const password = randomBytes(16).toString('hex');
  let child: ChildProcess | undefined;

  const launch = async () => {
    child = spawn(
      'redis-server',
      [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--requirepass', password, '--protected-mode', 'yes',
        ...(opts.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ],
      { stdio: 'ignore' },
    );
    const c = child;
    c.on('error', () => undefined);
    // Dies with the test run even if the test process is killed before it can stop it.
    track(c.pid);
    await waitFor(async () => {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}`);
      const r = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined);
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    }, `redis-server on port ${port}`);
  };
  const exited = (c: ChildProcess, signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill(signal);
    });

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    password,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    kill: async () => {
      if (child) await exited(child, 'SIGKILL');
    },
    restart: launch,
    stop: async () => {
      if (child) await exited(child, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
