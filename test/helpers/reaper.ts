/**
 * The reaper: `node reaper.js <pid>` watches one test process (an ava worker) and, when it ends —
 * normally, by ava's timeout, or SIGKILLed — kills every process it started that is still there
 * (redis-server, the writer, supervisord and its programs, ...), so nothing outlives a test run.
 *
 * Started by reaper-client.ts with a pipe on its stdin: the kernel closes that pipe when the
 * watched process dies, whatever the cause, so the end is seen at once without polling. While it
 * waits it records the watched process's descendants every 250 ms (pid + start time, so a reused
 * pid is never killed), because once their parent is gone they are reparented and the tree can no
 * longer be walked from it; pids registered by the helpers (`track <pid>` lines) are recorded at once.
 */
import fs from 'node:fs';

const watched = Number(process.argv[2]);
if (!Number.isInteger(watched) || watched <= 1) process.exit(2);

interface Stat {
  ppid: number;
  start: string;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), start: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

function allProcesses(): Map<number, Stat> {
  const out = new Map<number, Stat>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const s = readStat(pid);
    if (s) out.set(pid, s);
  }
  return out;
}

/** pid → start time of everything we must kill when the watched process is gone. */
const tracked = new Map<number, string>();

function alive(pid: number, start: string): boolean {
  const s = readStat(pid);
  return s !== undefined && s.start === start;
}

/** Record the descendants of the watched process and of every live tracked process. */
function scan(): void {
  const procs = allProcesses();
  const roots = new Set<number>([watched]);
  for (const [pid, start] of tracked) if (procs.get(pid)?.start === start) roots.add(pid);
  const children = new Map<number, number[]>();
  for (const [pid, s] of procs) {
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  const queue = [...roots];
  while (queue.length) {
    const pid = queue.pop() as number;
    for (const child of children.get(pid) ?? []) {
      if (child === process.pid) continue;
      const s = procs.get(child);
      if (s && !tracked.has(child)) tracked.set(child, s.start);
      queue.push(child);
    }
  }
  for (const [pid, start] of tracked) if (!procs.has(pid) || procs.get(pid)?.start !== start) tracked.delete(pid);
}

function signalAll(signal: NodeJS.Signals): number {
  let n = 0;
  for (const [pid, start] of tracked) {
    if (!alive(pid, start)) continue;
    try {
      process.kill(pid, signal);
      n += 1;
    } catch {
      /* already gone */
    }
  }
  return n;
}

let reaping = false;
async function reap(): Promise<void> {
  if (reaping) return;
  reaping = true;
  clearInterval(timer);
  scan();
  if (signalAll('SIGTERM') === 0) process.exit(0);
  // A few seconds to stop cleanly (supervisord stops its programs), then no more waiting.
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    scan();
    if ([...tracked].every(([pid, start]) => !alive(pid, start))) process.exit(0);
  }
  scan();
  signalAll('SIGKILL');
  process.exit(0);
}

const timer = setInterval(() => {
  try {
    process.kill(watched, 0);
  } catch {
    void reap();
    return;
  }
  scan();
}, 250);

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  input += chunk;
  const lines = input.split('\n');
  input = lines.pop() ?? '';
  for (const line of lines) {
    const pid = Number(/^track (\d+)$/.exec(line)?.[1]);
    const s = pid ? readStat(pid) : undefined;
    if (s) tracked.set(pid, s.start);
  }
});
process.stdin.on('end', () => void reap());
process.stdin.on('error', () => void reap());
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void reap());
scan();
