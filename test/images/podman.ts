/**
 * The images tier's hold on podman: commands, one lock per machine, a unique name prefix per run,
 * leftovers of crashed runs removed at start, the background helpers (Docker-API service and the
 * health-check loop, scripts/images/helpers.sh), image builds timed.
 * Everything a run creates is named `<prefix>...` (prefix `tsimg-<hex>-`) and so found again.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO = process.cwd();
export const CONTAINERS_CONF = path.join(REPO, 'scripts', 'images', 'containers.conf');
/** Every name a run creates starts with this; a run adds its own hex. */
export const FAMILY = 'tsimg-';
const STATE = '/var/tmp/tapstack-images-test';

export const podmanEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CONTAINERS_CONF });

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command; never throws on a non-zero exit (the result says). */
export async function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Result> {
  try {
    const r = await run(cmd, args, { env: opts.env ?? podmanEnv(), cwd: opts.cwd ?? REPO, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
  }
}

export const podman = (args: string[], timeoutMs?: number) => sh('podman', args, { timeoutMs });

/** podman, and throw with its output when it fails. */
export async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await podman(args, timeoutMs);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function newPrefix(): string {
  return `${FAMILY}${randomBytes(3).toString('hex')}-`;
}

/**
 * One tier run at a time on this machine (they share podman's storage and the leftover sweep
 * would take the other run's containers): a lock directory holding the owner's PID, taken over
 * when that process is gone.
 */
export async function acquireLock(timeoutMs = 60 * 60_000): Promise<() => void> {
  fs.mkdirSync(STATE, { recursive: true });
  const lock = path.join(STATE, 'lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      return () => fs.rmSync(lock, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (!owner || !alive(owner)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another images-tier run (pid ${owner}) holds ${lock}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove what earlier runs left behind (a killed run cannot clean up): their helper processes (by
 * the PIDs they recorded), then containers, pods, volumes and networks of the family. Called under
 * the lock, so no live run is touched.
 */
export async function sweepLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  fs.mkdirSync(STATE, { recursive: true });
  for (const f of fs.readdirSync(STATE).filter((n) => n.endsWith('.pid'))) {
    const pid = Number(fs.readFileSync(path.join(STATE, f), 'utf8'));
    const cmdline = (() => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    })();
    if (pid && cmdline.includes('helpers.sh')) {
      process.kill(pid, 'SIGTERM');
      removed.push(`helpers pid ${pid}`);
    }
    fs.rmSync(path.join(STATE, f), { force: true });
  }
  const list = async (args: string[]) => (await podman(args)).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(FAMILY));
  const containers = await list(['ps', '-a', '--format', '{{.Names}}']);
  if (containers.length) await podman(['rm', '-f', '-t', '0', ...containers]);
  const pods = await list(['pod', 'ls', '--format', '{{.Name}}']);
  if (pods.length) await podman(['pod', 'rm', '-f', ...pods]);
  const volumes = await list(['volume', 'ls', '--format', '{{.Name}}']);
  if (volumes.length) await podman(['volume', 'rm', '-f', ...volumes]);
  const networks = await list(['network', 'ls', '--format', '{{.Name}}']);
  if (networks.length) await podman(['network', 'rm', '-f', ...networks]);
  return [...removed, ...containers, ...pods, ...volumes, ...networks];
}

/** Remove everything of one run (containers first: they hold volumes and networks). */
export async function removeRun(prefix: string): Promise<void> {
  const list = async (args: string[]) => (await podman(args)).stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(prefix));
  const containers = await list(['ps', '-a', '--format', '{{.Names}}']);
  if (containers.length) await podman(['rm', '-f', '-t', '0', ...containers]);
  const volumes = await list(['volume', 'ls', '--format', '{{.Name}}']);
  if (volumes.length) await podman(['volume', 'rm', '-f', ...volumes]);
  const networks = await list(['network', 'ls', '--format', '{{.Name}}']);
  if (networks.length) await podman(['network', 'rm', '-f', ...networks]);
}

/**
 * scripts/images/setup.sh: podman installed, stand-in base images present, a container runs.
 * Its exit 3 means containers cannot run on this machine: the tier fails saying so.
 */
export async function prepareMachine(): Promise<{ seconds: number; output: string }> {
  const started = Date.now();
  const r = await sh(path.join(REPO, 'scripts', 'images', 'setup.sh'), [], { timeoutMs: 20 * 60_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.code === 3) throw new Error(`the images tier cannot run here: ${output.trim()}`);
  if (r.code !== 0) throw new Error(`scripts/images/setup.sh exited ${r.code}:\n${output.slice(-4000)}`);
  return { seconds: (Date.now() - started) / 1000, output };
}

/** `podman build --format docker` (the OCI default drops HEALTHCHECK); seconds it took. */
export async function buildImage(dockerfile: string, tag: string): Promise<number> {
  const started = Date.now();
  const r = await sh('podman', ['build', '--format', 'docker', '--network=host', '--pull=never', '-f', dockerfile, '-t', tag, '.'], { timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new Error(`podman build -f ${dockerfile} failed (${r.code}):\n${(r.stdout + r.stderr).slice(-6000)}`);
  return (Date.now() - started) / 1000;
}

export interface Helpers {
  socket: string;
  stop(): Promise<void>;
}

/** Start scripts/images/helpers.sh (Docker-API socket + health-check loop) for one run. */
export async function startHelpers(prefix: string): Promise<Helpers> {
  fs.mkdirSync(STATE, { recursive: true });
  const socket = path.join(STATE, `${prefix}podman.sock`);
  fs.rmSync(socket, { force: true });
  const child: ChildProcess = spawn(path.join(REPO, 'scripts', 'images', 'helpers.sh'), [socket, prefix, '5'], { env: podmanEnv(), stdio: 'ignore' });
  const pidFile = path.join(STATE, `${prefix}helpers.pid`);
  fs.writeFileSync(pidFile, String(child.pid));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('podman system service did not open its socket');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    socket,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(pidFile, { force: true });
      fs.rmSync(socket, { force: true });
    },
  };
}

/** `podman inspect` of one container, parsed. */
export async function inspect(name: string): Promise<any> {
  const [info] = JSON.parse(await podmanOk(['container', 'inspect', name])) as any[];
  return info;
}

export interface PsRow {
  state: string;
  health: string;
  exitCode: number;
}

/**
 * Every container whose name starts with `prefix`, in ONE `podman ps` (polling each container with
 * its own `inspect` would add dozens of podman processes a second to the machine's load).
 */
export async function ps(prefix: string): Promise<Map<string, PsRow>> {
  const rows = JSON.parse((await podmanOk(['ps', '-a', '--format', 'json', '--filter', `name=^${prefix}`])) || '[]') as { Names: string[]; State: string; Status: string; ExitCode: number }[];
  return new Map(rows.map((r) => [r.Names[0]!, { state: r.State, health: /\((healthy|unhealthy|starting)\)/.exec(r.Status)?.[1] ?? 'none', exitCode: r.ExitCode }]));
}

export function healthOf(info: any): string {
  return info?.State?.Health?.Status ?? info?.State?.Healthcheck?.Status ?? 'none';
}

/** Wait until the container's own HEALTHCHECK says healthy; seconds since `since`. */
export async function waitHealthy(name: string, since: number, timeoutMs: number, logs: () => Promise<string> = async () => (await podman(['logs', '--tail', '60', name])).stdout + (await podman(['logs', '--tail', '60', name])).stderr): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const row = (await ps(name).catch(() => new Map<string, PsRow>())).get(name);
    last = row?.health ?? 'absent';
    if (last === 'healthy') return (Date.now() - since) / 1000;
    if (row?.state === 'exited') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${name} not healthy (${last}) after ${Math.round((Date.now() - since) / 1000)} s:\n${(await logs()).slice(-5000)}`);
}

export const secondsSince = (t0: number) => Math.round((Date.now() - t0) / 100) / 10;
