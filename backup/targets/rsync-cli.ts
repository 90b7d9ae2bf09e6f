/**
 * Driving the `rsync` client: parsing a target URL into connection arguments, running rsync with a
 * clean environment, turning its exit status and messages into `TargetError`s, and parsing
 * `--list-only` output. Secrets never appear in arguments: the daemon password is read by rsync
 * from `--password-file`, the ssh key from `-i FILE`.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../../services/shared/logger.js';
import { TargetError, type TargetErrorCode } from './errors.js';

export interface RsyncRemote {
  /** The URL as configured (it holds no secret: passwords in URLs are refused). */
  display: string;
  /** Connection arguments for every rsync run. */
  args: string[];
  /** The rsync operand for `rel` (a key, a `dir/`, or '' for the root — which ends in `/`). */
  operand(rel: string): string;
}

export interface RsyncConnectionSpec {
  url: string;
  passwordFile?: string;
  sshKeyFile?: string;
  knownHostsFile?: string;
}

/** Connect timeout (ssh, daemon) and I/O timeout, in seconds. */
const CONNECT_TIMEOUT_S = 5;
const IO_TIMEOUT_S = 60;

export function parseRsyncUrl(spec: RsyncConnectionSpec, bad: (msg: string) => Error): RsyncRemote {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw bad('url must look like rsync://user@host:port/module/path or ssh://user@host:port/path');
  }
  if (url.password) throw bad('url must not contain a password (use passwordFile)');
  if (url.search || url.hash) throw bad('url must not have a query or fragment');
  const user = decodeURIComponent(url.username);
  const userAt = user ? `${user}@` : '';
  const path = decodeURIComponent(url.pathname).replace(/\/+$/, '');
  if (/[\u0000-\u001f']/.test(path)) throw bad('url path must not contain control characters or quotes');
  const display = `${url.protocol}//${userAt}${url.host}${path || '/'}`;

  if (url.protocol === 'rsync:') {
    if (!path || path === '/') throw bad('rsync:// url needs a module: rsync://user@host:port/module[/path]');
    if (spec.sshKeyFile || spec.knownHostsFile) throw bad('sshKeyFile/knownHostsFile apply to ssh:// urls only');
    const base = `rsync://${userAt}${url.hostname}:${url.port || '873'}${path}/`;
    return {
      display,
      args: [...(spec.passwordFile ? [`--password-file=${spec.passwordFile}`] : []), `--contimeout=${CONNECT_TIMEOUT_S}`, `--timeout=${IO_TIMEOUT_S}`, '--no-motd'],
      operand: (rel) => base + rel,
    };
  }
  if (url.protocol === 'ssh:') {
    if (spec.passwordFile) throw bad('passwordFile applies to rsync:// urls only (ssh uses sshKeyFile)');
    const ssh = [
      'ssh',
      ...(spec.sshKeyFile ? ['-i', quote(spec.sshKeyFile, bad), '-o', 'IdentitiesOnly=yes'] : []),
      '-p', url.port || '22',
      ...(spec.knownHostsFile ? ['-o', `UserKnownHostsFile=${quote(spec.knownHostsFile, bad)}`] : []),
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-o', `ConnectTimeout=${CONNECT_TIMEOUT_S}`,
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=4',
    ].join(' ');
    // With an rrsync-restricted key, "/" is the restricted directory; otherwise the server's root.
    const base = `${userAt}${url.hostname}:${path}/`;
    return { display, args: ['-e', ssh, `--timeout=${IO_TIMEOUT_S}`], operand: (rel) => base + rel };
  }
  throw bad(`unsupported url scheme ${url.protocol} (rsync:// or ssh://)`);
}

/** rsync splits `-e` on whitespace but honours single quotes. */
function quote(file: string, bad: (msg: string) => Error): string {
  if (file.includes("'")) throw bad(`file names with quotes are not supported: ${file}`);
  return /^[\w./@:+=-]+$/.test(file) ? file : `'${file}'`;
}

export interface RsyncResult {
  code: number;
  stdout: string;
  stderr: string;
}

const STDERR_LIMIT = 64 * 1024;

/**
 * Run rsync with `args` (+ the remote's connection arguments). Resolves whatever the exit status;
 * only a missing rsync binary rejects. Runs in its own session so that it can never prompt on the
 * terminal (a missing password fails instead of hanging) and with TZ=UTC/LC_ALL=C so that its
 * output parses the same everywhere.
 */
/**
 * rrsync (a key restricted to one directory) lets one client at a time into its directory and
 * refuses the others at once: that is contention, not failure, so wait a moment and run again.
 */
const RRSYNC_BUSY = /Another instance of rrsync is already accessing this directory/;
const BUSY_ATTEMPTS = 40;

export async function runRsync(args: string[], log: Logger | undefined): Promise<RsyncResult> {
  for (let attempt = 1; ; attempt += 1) {
    const r = await runRsyncOnce(args, log);
    if (r.code === 0 || !RRSYNC_BUSY.test(r.stderr) || attempt >= BUSY_ATTEMPTS) return r;
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 200)));
  }
}

function runRsyncOnce(args: string[], log: Logger | undefined): Promise<RsyncResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // RSYNC_PASSWORD/RSYNC_RSH/... from the caller's environment must not change what we run.
    if (v !== undefined && !k.startsWith('RSYNC_') && k !== 'SSH_AUTH_SOCK') env[k] = v;
  }
  env.TZ = 'UTC';
  env.LC_ALL = 'C';
  log?.debug({ argv: ['rsync', ...args] }, 'rsync');
  return new Promise((resolve, reject) => {
    const child = spawn('rsync', args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-STDERR_LIMIT);
    });
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new TargetError('invalid-config', e.code === 'ENOENT' ? 'the rsync executable was not found (install rsync)' : `cannot run rsync: ${e.message}`)),
    );
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout: Buffer.concat(out).toString(), stderr: err }));
  });
}

/** The remote path does not exist (file or directory), as rsync, the daemon or rrsync say it. */
export function isRemoteMissing(r: RsyncResult): boolean {
  return r.code !== 0 && /(link_stat|change_dir|post-realpath open failed).*(No such file or directory|Not a directory)/.test(r.stderr);
}

/** A failed run as a TargetError with a stable code and rsync's own words. */
export function rsyncError(r: RsyncResult, label: string, op: string): TargetError {
  const text = r.stderr;
  let code: TargetErrorCode = 'failed';
  if (/@ERROR: auth failed|Permission denied \(|Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(text)) {
    code = 'auth-failed';
  } else if (/@ERROR: Unknown module|could not open password file|password file must/.test(text)) {
    code = 'invalid-config';
  } else if (
    r.code === 10 || r.code === 30 || r.code === 35 ||
    /failed to connect to|Connection refused|Connection timed out|timed out|Could not resolve hostname|No route to host|Network is unreachable/.test(text)
  ) {
    code = 'unreachable';
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^rsync error: .*\(code \d+\) at /.test(l));
  const detail = lines.slice(-4).join(' | ') || `exit status ${r.code}`;
  return new TargetError(code, `${label}: ${op} failed (rsync exit ${r.code}): ${detail}`);
}

export interface ListedEntry {
  type: string;
  size: number;
  modifiedAt: number;
  /** Path relative to the listed directory ('.' is the directory itself). */
  name: string;
}

const LINE = /^([-dlcbps])[-rwxsStT]{9}[.+@]?\s+([\d,]+)\s+(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) (.+)$/;

/**
 * Parse `rsync --list-only --no-h` output (mode, size, date, time, name). Names may contain spaces
 * (the name is everything after the time); rsync prints unprintable bytes as `\#ooo` (with
 * LC_ALL=C that is every non-ASCII byte), decoded here back to UTF-8. Times are UTC (TZ=UTC).
 */
export function parseListing(stdout: string): ListedEntry[] {
  const entries: ListedEntry[] = [];
  for (const line of stdout.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, type = '', size = '0', y, mo, d, h, mi, s, rawName = ''] = m;
    let name = rawName;
    if (type === 'l') name = name.replace(/ -> .*$/, '');
    if (name.includes('\\#')) {
      name = Buffer.from(name.replace(/\\#([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8');
    }
    entries.push({
      type,
      size: Number(size.replace(/,/g, '')),
      modifiedAt: Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)),
      name,
    });
  }
  return entries;
}
