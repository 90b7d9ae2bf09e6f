/**
 * A fixed-delay loop: the next pass starts `ms` after the previous one *finished*, so passes never
 * overlap however long one takes (unlike `setInterval`). Stoppable: `stop()` lets no new pass start
 * and resolves once the pass under way (if any) has finished. A failing pass is logged once per
 * failing spell (not every pass), its recovery once, and the loop goes on.
 */
import type { Logger } from './logger.js';

export interface EveryOptions {
  log: Logger;
  /** What a pass does, for the log lines: "<what> failed; retrying every pass", "<what> resumed". */
  what: string;
  /** Run the first pass at once (default), or only `ms` after the start. */
  immediate?: boolean;
  /** Do not keep the process alive for the wait between passes alone. */
  unref?: boolean;
  /** Handles every failed pass instead of the log-once lines (the caller logs what it needs). */
  onError?: (err: Error) => void;
  /**
   * A pass still unsettled after this long counts as failed and the loop goes on without it (a
   * command whose reply never comes must not stop the loop for good while its probe says ok).
   */
  timeoutMs?: number;
}

export interface Every {
  /** No new pass starts; resolves when the pass under way (if any) has finished. */
  stop(): Promise<void>;
  /** Resolves when the pass under way (if any) has finished; the loop goes on. */
  settled(): Promise<void>;
  /** The last pass failed. */
  readonly failing: boolean;
}

/** Run `pass` now (or after `ms`), then again `ms` after each pass ends, until stopped. */
export function every(ms: number, pass: () => Promise<unknown>, opts: EveryOptions): Every {
  let stopped = false;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;

  const ok = () => {
    if (failing && !opts.onError) opts.log.info(`${opts.what} resumed`);
    failing = false;
  };
  const failed = (err: Error) => {
    if (opts.onError) opts.onError(err);
    else if (!failing) opts.log.error({ err: err.message }, `${opts.what} failed; retrying every pass`);
    failing = true;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(run, ms);
    if (opts.unref) timer.unref();
  };
  const bounded = (): Promise<unknown> => {
    const { timeoutMs } = opts;
    if (timeoutMs === undefined) return Promise.resolve().then(pass);
    let guard: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error(`a pass was still running after ${timeoutMs} ms; abandoned`)), timeoutMs);
    });
    return Promise.race([Promise.resolve().then(pass), expired]).finally(() => clearTimeout(guard));
  };
  function run(): void {
    timer = undefined;
    current = bounded()
      .then(ok, failed)
      .finally(() => {
        current = undefined;
        schedule();
      });
  }

  if (opts.immediate === false) schedule();
  else run();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await current;
    },
    async settled() {
      await current;
    },
    get failing() {
      return failing;
    },
  };
}
