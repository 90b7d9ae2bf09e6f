/**
 * Backup target servers for tests: s3rver, a loopback rsync daemon and a loopback sshd (rsync over
 * ssh, key restricted with rrsync). Each one runs in its own temp directory on a free port, is owned
 * by ONE PID (no shell or npx in between, so stop() really stops it) and is stopped by that PID.
 * Every handle offers `spec(name)`: a ready-to-use `TargetSpec` for `createTarget()`. If the test
 * worker dies without stop(), the kernel stops the servers (parent-death signal via setpriv).
 *
 *   const s3 = await startS3rver();            // bucket created, credentials in a file
 *   const target = createTarget(s3.spec('s3'));
 *   ...
 *   await s3.stop();                           // SIGTERM (then SIGKILL), waits, removes the temp dir
 *
 * Needs the Debian packages rsync, openssh-server, openssh-client and util-linux (unshare, setpriv);
 * startSshd() needs root (it mounts a tmpfs in a private mount namespace).
 * Facts and traps behind these choices: ../shared/TOOLING.md ("S3 in tests", "rsync targets").
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { TargetSpec } from '../../backup/contracts.js';
import { cleanProcessEnv } from './env.js';
import { freePort, waitFor } from './ports.js';

export type S3Spec = Extract<TargetSpec, { type: 's3' }>;
export type RsyncSpec = Extract<TargetSpec, { type: 'rsync' }>;

/** What every server handle has. */
export interface TestServer {
  port: number;
  pid: number;
  /** The server's private temp directory (configs, keys, data); removed by stop(). */
  dir: string;
  /** Everything the server printed (last 64 KiB), for assertion messages. */
  output(): string;
  /** SIGTERM by PID (SIGKILL after 5 s), wait for the exit, remove `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface TestS3 extends TestServer {
  endpoint: string;
  region: string;
  bucket: string;
  /** s3rver's fixed test credentials; the secret is also in `secretAccessKeyFile` (mode 600). */
  accessKeyId: string;
  secretAccessKey: string;
  secretAccessKeyFile: string;
  /** s3rver's storage directory (objects are files under `<dataDir>/<bucket>/`). */
  dataDir: string;
  spec(name?: string, extra?: { prefix?: string; partSize?: number }): S3Spec;
}

export interface TestRsyncDaemon extends TestServer {
  /** `rsync://USER@127.0.0.1:PORT/MODULE` (no trailing slash). */
  url: string;
  user: string;
  module: string;
  /** The module's directory on disk. */
  moduleDir: string;
  /** The client's password file (mode 600). */
  passwordFile: string;
  spec(name?: string, subPath?: string): RsyncSpec;
}

export interface TestSshd extends TestServer {
  /** `ssh://USER@127.0.0.1:PORT/` — with rrsync, `/` is the restricted directory. */
  url: string;
  user: string;
  /** The directory the client key is confined to (rrsync) — where objects land. */
  rootDir: string;
  keyFile: string;
  knownHostsFile: string;
  spec(name?: string, subPath?: string): RsyncSpec;
}

// ------------------------------------------------------------------------------------ s3rver

/**
 * s3rver 3.7 on 127.0.0.1 with the bucket created through the SDK (which doubles as the readiness
 * probe). Started with `--openssl-legacy-provider`, without which every truncated (paged) listing
 * returns 500. Clients must use `forcePathStyle` and the `WHEN_REQUIRED` checksum settings.
 */
export async function startS3rver(opts: { bucket?: string } = {}): Promise<TestS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-s3rver-'));
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  const port = await freePort();
  const bucket = opts.bucket ?? 'tapstack-test';
  const accessKeyId = 'S3RVER';
  const secretAccessKey = 'S3RVER';
  const secretAccessKeyFile = path.join(dir, 'secret-access-key');
  fs.writeFileSync(secretAccessKeyFile, `${secretAccessKey}\n`, { mode: 0o600 });
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';

  const script = path.join(process.cwd(), 'node_modules/s3rver/bin/s3rver.js');
  const proc = launch(process.execPath, [script, '--directory', dataDir, '--port', String(port), '--address', '127.0.0.1', '--silent'], {
    env: { ...cleanProcessEnv(), NODE_OPTIONS: '--openssl-legacy-provider' },
  });
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
  try {
    await waitFor(async () => {
      proc.assertRunning('s3rver');
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return true;
    }, `s3rver on port ${port}`);
  } catch (err) {
    await proc.stop(dir);
    throw withOutput(err, proc.output());
  } finally {
    client.destroy();
  }
  return {
    port, pid: proc.pid, dir, output: proc.output, stop: () => proc.stop(dir),
    endpoint, region, bucket, accessKeyId, secretAccessKey, secretAccessKeyFile, dataDir,
    spec: (name = 's3', extra = {}) => ({
      type: 's3', name, bucket, region, endpoint, forcePathStyle: true, accessKeyId, secretAccessKeyFile, ...extra,
    }),
  };
}

// ------------------------------------------------------------------------------- rsync daemon

/**
 * `rsync --daemon --no-detach` from a generated rsyncd.conf: 127.0.0.1, no chroot, one writable
 * module `backup` with `auth users` and a secrets file (mode 600). The daemon runs transfers as the
 * current user (as root it would otherwise switch to `nobody`).
 */
export async function startRsyncDaemon(): Promise<TestRsyncDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-rsyncd-'));
  const moduleDir = path.join(dir, 'module');
  fs.mkdirSync(moduleDir, { mode: 0o700 });
  const port = await freePort();
  const user = 'tapstack';
  const module = 'backup';
  const password = randomBytes(16).toString('hex');
  const secretsFile = path.join(dir, 'rsyncd.secrets');
  fs.writeFileSync(secretsFile, `${user}:${password}\n`, { mode: 0o600 });
  const passwordFile = path.join(dir, 'client.password');
  fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const conf = path.join(dir, 'rsyncd.conf');
  const { uid, gid } = os.userInfo();
  fs.writeFileSync(
    conf,
    [
      `port = ${port}`,
      'address = 127.0.0.1',
      'use chroot = no',
      `log file = ${path.join(dir, 'rsyncd.log')}`,
      `[${module}]`,
      `  path = ${moduleDir}`,
      '  read only = false',
      `  uid = ${uid}`,
      `  gid = ${gid}`,
      `  auth users = ${user}`,
      `  secrets file = ${secretsFile}`,
      '  strict modes = true',
      '',
    ].join('\n'),
  );

  const proc = launch('rsync', ['--daemon', '--no-detach', `--config=${conf}`], { env: cleanProcessEnv() });
  try {
    await waitFor(async () => {
      proc.assertRunning('rsync daemon');
      return (await banner(port)).startsWith('@RSYNCD:');
    }, `rsync daemon on port ${port}`);
  } catch (err) {
    await proc.stop(dir);
    throw withOutput(err, proc.output() + readIfExists(path.join(dir, 'rsyncd.log')));
  }
  const url = `rsync://${user}@127.0.0.1:${port}/${module}`;
  return {
    port, pid: proc.pid, dir, stop: () => proc.stop(dir),
    output: () => proc.output() + readIfExists(path.join(dir, 'rsyncd.log')),
    url, user, module, moduleDir, passwordFile,
    spec: (name = 'rsyncd', subPath = '') => ({ type: 'rsync', name, url: `${url}/${subPath}`, passwordFile }),
  };
}

// ---------------------------------------------------------------------------------------- sshd

/**
 * A loopback sshd for the current user, key authentication only. sshd needs `/run/sshd`, so it
 * runs in a private mount namespace with its own tmpfs on /run (the host's /run is untouched).
 * By default the client key is restricted with `command="/usr/bin/rrsync DIR",restrict` — the way
 * an operator should set up a backup key — so only rsync into `rootDir` is possible; pass
 * `{ rrsync: false }` for an unrestricted key (a login shell).
 */
export async function startSshd(opts: { rrsync?: boolean } = {}): Promise<TestSshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-sshd-'));
  const rootDir = path.join(dir, 'root');
  fs.mkdirSync(rootDir, { mode: 0o700 });
  const port = await freePort();
  const user = os.userInfo().username;
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const keyFile = path.join(dir, 'client_ed25519');
  keygen(hostKey, 'tapstack-test-host');
  keygen(keyFile, 'tapstack-test-client');

  const clientPub = fs.readFileSync(`${keyFile}.pub`, 'utf8').trim();
  const restriction = opts.rrsync === false ? '' : `command="/usr/bin/rrsync ${rootDir}",restrict `;
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorizedKeys, `${restriction}${clientPub}\n`, { mode: 0o600 });

  const knownHostsFile = path.join(dir, 'known_hosts');
  const hostPub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  fs.writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPub}\n`, { mode: 0o600 });

  const conf = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      'PidFile none',
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'StrictModes no',
      'UsePAM no',
      'PrintMotd no',
      // Tests open many connections at once; the default (10:30:100) drops some at random.
      'MaxStartups 200',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );

  const proc = launch(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec /usr/sbin/sshd -D -e -f "$0"', conf],
    { env: cleanProcessEnv() },
  );
  try {
    await waitFor(async () => {
      proc.assertRunning('sshd');
      return (await banner(port)).startsWith('SSH-2.0-');
    }, `sshd on port ${port}`);
  } catch (err) {
    await proc.stop(dir);
    throw withOutput(err, proc.output());
  }
  return {
    port, pid: proc.pid, dir, output: proc.output, stop: () => proc.stop(dir),
    url: `ssh://${user}@127.0.0.1:${port}/`, user, rootDir, keyFile, knownHostsFile,
    spec: (name = 'ssh', subPath = '') => ({
      type: 'rsync', name, url: `ssh://${user}@127.0.0.1:${port}/${subPath}`, sshKeyFile: keyFile, knownHostsFile,
    }),
  };
}

// ------------------------------------------------------------------------------------ plumbing

interface Launched {
  pid: number;
  output(): string;
  assertRunning(what: string): void;
  /** Stop by PID and remove `dir` (both idempotent). */
  stop(dir: string): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;

/**
 * Spawn a server under `setpriv --pdeathsig TERM` (setpriv execs it: still one PID), so the kernel
 * stops it even if the test worker is killed before it can call stop().
 */
function launch(cmd: string, args: string[], opts: { env: Record<string, string> }): Launched {
  const child: ChildProcess = spawn('setpriv', ['--pdeathsig', 'TERM', '--', cmd, ...args], { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (d: Buffer) => {
    out = (out + d.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // Safety net for a worker that exits without calling stop() (pdeathsig covers being killed).
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    output: () => out,
    assertRunning: (what) => {
      if (spawnError) throw new Error(`${what} could not start: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode})`);
    },
    stop: (dir) =>
      (stopping ??= (async () => {
        process.removeListener('exit', onExit);
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** The first bytes a server sends on connect ('' if it sends nothing within a second). */
function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const done = (v: string) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(1_000, () => done(''));
    sock.once('data', (d) => done(d.toString()));
    sock.once('error', reject);
  });
}

function keygen(file: string, comment: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr || r.error?.message}`);
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function withOutput(err: unknown, output: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message += output ? `\n--- server output ---\n${output}` : '';
  return e;
}
