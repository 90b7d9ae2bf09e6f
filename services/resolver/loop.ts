/**
 * A fixed-delay loop: the next pass starts `intervalMs` after the previous one finished, so passes
 * never overlap however long one takes. A failing pass is logged once (not every pass) and retried.
 */
import type { Logger } from '../shared/logger.js';

export interface Loop {
  /** No new pass starts; resolves when the pass under way (if any) has finished. */
  stop(): Promise<void>;
}

export function startLoop(pass: () => Promise<unknown>, opts: { intervalMs: number; log: Logger; what: string }): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let failing = false;

  const run = () => {
    timer = undefined;
    current = pass()
      .then(
        () => {
          if (failing) opts.log.info(`${opts.what} resumed`);
          failing = false;
        },
        (err: Error) => {
          if (!failing) opts.log.error({ err: err.message }, `${opts.what} failed; retrying every pass`);
          failing = true;
        },
      )
      .finally(() => {
        current = undefined;
        if (!stopped) timer = setTimeout(run, opts.intervalMs);
      });
  };
  run();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
