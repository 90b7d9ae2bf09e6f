/**
 * Progress of long operations (upload, download, verify, restore). The engine reports bytes through
 * `Progress`; the CLI renders bars (bytes, rate, ETA) with cli-progress when stderr is a terminal and
 * plain lines otherwise (logs, pipes, CI); the scheduler and `--json` runs stay silent.
 */
import cliProgress from 'cli-progress';

export interface ProgressTask {
  add(bytes: number): void;
  done(summary?: string): void;
}

export interface Progress {
  task(label: string, totalBytes: number): ProgressTask;
  /** An informational line (what is happening now). */
  note(message: string): void;
}

export const silentProgress: Progress = {
  task: () => ({ add: () => undefined, done: () => undefined }),
  note: () => undefined,
};

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const rateOf = (bytes: number, startedAt: number) => bytes / Math.max(0.001, (Date.now() - startedAt) / 1000);

/** Bars on a TTY, plain lines (start, every `everyMs`, end) elsewhere. Writes to `stream` (stderr). */
export function createCliProgress(stream: NodeJS.WriteStream = process.stderr, opts: { everyMs?: number } = {}): Progress & { stop(): void } {
  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      {
        stream,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 50,
        format: (_o, params, payload: { label: string; startedAt: number }) => {
          const width = 20;
          const frac = params.total > 0 ? Math.min(1, params.value / params.total) : 1;
          const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
          const rate = rateOf(params.value, payload.startedAt);
          const eta = rate > 0 ? ((params.total - params.value) / rate) * 1000 : 0;
          return `${payload.label.padEnd(22)} ${bar} ${formatBytes(params.value)}/${formatBytes(params.total)}  ${formatBytes(rate)}/s  ETA ${formatDuration(eta)}`;
        },
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      task(label, total) {
        const bar = multi.create(Math.max(total, 1), 0, { label, startedAt: Date.now() });
        return {
          add: (n) => bar.increment(n),
          done: () => bar.update(Math.max(total, 1)),
        };
      },
      note: (m) => multi.log(`${m}\n`),
      stop: () => multi.stop(),
    };
  }
  const everyMs = opts.everyMs ?? 5000;
  return {
    task(label, total) {
      const startedAt = Date.now();
      let bytes = 0;
      let lastPrint = startedAt;
      stream.write(`${label}: ${formatBytes(total)} to go\n`);
      return {
        add(n) {
          bytes += n;
          if (Date.now() - lastPrint >= everyMs) {
            lastPrint = Date.now();
            const rate = rateOf(bytes, startedAt);
            const pct = total > 0 ? Math.floor((bytes / total) * 100) : 100;
            stream.write(`${label}: ${formatBytes(bytes)}/${formatBytes(total)} (${pct}%), ${formatBytes(rate)}/s, ETA ${formatDuration(rate > 0 ? ((total - bytes) / rate) * 1000 : 0)}\n`);
          }
        },
        done(summary) {
          stream.write(`${label}: done, ${formatBytes(bytes)} in ${formatDuration(Date.now() - startedAt)} (${formatBytes(rateOf(bytes, startedAt))}/s)${summary ? `; ${summary}` : ''}\n`);
        },
      };
    },
    note: (m) => void stream.write(`${m}\n`),
    stop: () => undefined,
  };
}
