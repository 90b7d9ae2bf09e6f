/**
 * The one shutdown helper. Register steps in the order they must run (stop accepting, drain,
 * close sockets and Redis, checkpoint the WAL, close the database); SIGTERM/SIGINT run them once,
 * each bounded by the overall timeout, then exit.
 */
import type { Logger } from './logger.js';

export interface Lifecycle {
  /** Add a shutdown step; steps run sequentially in registration order. */
  onShutdown(name: string, step: () => unknown | Promise<unknown>): void;
  /** Run every step once and resolve when done (or the timeout forced the end). */
  shutdown(reason: string): Promise<void>;
  /** Install SIGTERM/SIGINT handlers and a crash handler that exits non-zero. */
  installSignalHandlers(): void;
}

export function createLifecycle(log: Logger, timeoutMs: number, exit: (code: number) => void = (c) => process.exit(c)): Lifecycle {
  const steps: { name: string; step: () => unknown }[] = [];
  let running: Promise<void> | undefined;

  const run = async (reason: string) => {
    log.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ timeoutMs }, 'graceful shutdown timed out; forcing exit');
      exit(1);
    }, timeoutMs);
    deadline.unref();
    for (const { name, step } of steps) {
      try {
        await step();
      } catch (err) {
        log.error({ err, step: name }, 'shutdown step failed');
      }
    }
    clearTimeout(deadline);
    log.info('shutdown complete');
  };

  return {
    onShutdown: (name, step) => void steps.push({ name, step }),
    shutdown(reason) {
      running ??= run(reason);
      return running;
    },
    installSignalHandlers() {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          void this.shutdown(signal).then(() => {
            log.flush?.();
            exit(0);
          });
        });
      }
      const crash = (err: unknown) => {
        log.fatal({ err }, 'unexpected error; exiting so the supervisor restarts us');
        void this.shutdown('crash').finally(() => {
          log.flush?.();
          exit(1);
        });
      };
      process.on('uncaughtException', crash);
      process.on('unhandledRejection', crash);
    },
  };
}
