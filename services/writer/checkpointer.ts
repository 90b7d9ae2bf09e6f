/**
 * The writer's checkpoint thread. SQLite's automatic checkpoint runs inside the commit that
 * crosses its threshold, on the committing thread: at a few thousand bets a second that was every
 * quarter second, and copying the WAL into the main file and fsyncing it took half the wall time
 * of the writer's transactions (the bench: 3.3 → 1.7 ms per transaction at ~3,800 bets/s without
 * it), with the event loop blocked meanwhile. Here a worker thread with its own connection runs a
 * PASSIVE checkpoint every `intervalMs` instead — it never blocks the writer. The WAL restarts
 * from its start only at a transaction that begins with every frame already copied, and a busy
 * writer commits again before the thread's pass ends (a second's WAL takes it 10–25 ms), so on its
 * own the WAL kept growing (to ~250 MiB at half the saturated rate in the bench), restarted by
 * chance, and the commit after that chance restart truncated the file to its size limit inside
 * the writer's transaction (an ftruncate of ~190 MiB: 25–75 ms commits, the half-rate tap tails).
 * So after each complete pass the writer's own connection copies the few frames committed
 * meanwhile (`catchUp`, on its event loop, between two transactions: median ~4 ms, up to ~15 ms
 * in the bench) and its next transaction restarts the WAL: the file holds about one interval of
 * work. The writer's connection keeps SQLite's automatic checkpoint only as a safety valve
 * (`OpenOptions.checkpointThread`). Not used in continuous backup mode: the WAL shipper owns
 * checkpoints there.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/logger.js';
import type { CheckpointThreadData, CheckpointThreadMessage } from './checkpoint-thread.js';

/**
 * How often the thread checkpoints: the WAL holds about this much of the writer's work. Each
 * checkpoint fsyncs the database file, and on one disk that fsync and the writer's WAL fsyncs wait
 * for each other; once a second rather than ten times halved the time per transaction at half the
 * saturated rate and cut its tap tails by about a third (bench, session 11: 1.6–2.6 ms against
 * 2.6–5.6 ms per transaction). Durability does not depend on it: a commit is durable at its own
 * fsync of the WAL.
 */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** A thread that died is started again after this long (meanwhile the safety valve bounds the WAL). */
const RESTART_MS = 1_000;

export interface Checkpointer {
  /** The last checkpoint the thread ran. */
  last(): { walFrames: number; checkpointed: number; at: number } | undefined;
  /** How many checkpoints it has run (it runs one only after something was committed). */
  count(): number;
  /** Stop the thread and close its connection (before the shutdown checkpoint and close); idempotent. */
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  /**
   * A PASSIVE checkpoint on the writer's own connection, run after each complete pass of the
   * thread (the frames committed during that pass), so that the writer's next transaction
   * restarts the WAL. Called from a message, never inside a transaction.
   */
  catchUp?: () => unknown;
}

export function startCheckpointer(data: Omit<CheckpointThreadData, 'intervalMs'> & { intervalMs?: number }, parentLog: Logger, opts: CheckpointerOptions = {}): Checkpointer {
  const log = parentLog.child({ module: 'checkpointer' });
  const workerData: CheckpointThreadData = { ...data, intervalMs: data.intervalMs ?? CHECKPOINT_INTERVAL_MS };
  let worker: Worker | undefined;
  let stopping = false;
  let restart: NodeJS.Timeout | undefined;
  let last: ReturnType<Checkpointer['last']>;
  let count = 0;
  let failing = false;
  let catchUpFailing = false;
  let exited = false;
  let stopped: Promise<void> | undefined;
  const spawn = () => {
    exited = false;
    const w = new Worker(new URL('./checkpoint-thread.js', import.meta.url), { workerData });
    worker = w;
    w.on('message', (m: CheckpointThreadMessage) => {
      if ('error' in m) {
        // Logged once per run of failures (a full disk fails at every checkpoint), and its end.
        if (!failing) log.error({ err: m.error }, 'WAL checkpoint failed; retrying');
        failing = true;
        return;
      }
      if (failing) log.info('WAL checkpoints succeed again');
      failing = false;
      count += 1;
      last = { walFrames: m.walFrames, checkpointed: m.checkpointed, at: Date.now() };
      if (opts.catchUp && m.caughtUp) {
        try {
          opts.catchUp();
          catchUpFailing = false;
        } catch (err) {
          // Costs only this restart; logged once per run of failures, like the thread's own.
          if (!catchUpFailing) log.warn({ err: (err as Error).message }, 'WAL catch-up checkpoint failed');
          catchUpFailing = true;
        }
      }
    });
    w.on('error', (err) => log.error({ err: err.message }, 'checkpoint thread failed'));
    w.on('exit', (code) => {
      exited = true;
      if (stopping) return;
      log.error({ code }, `checkpoint thread exited; starting it again in ${RESTART_MS} ms`);
      restart = setTimeout(spawn, RESTART_MS);
    });
  };
  spawn();
  return {
    last: () => last,
    count: () => count,
    stop() {
      if (stopped) return stopped;
      stopping = true;
      clearTimeout(restart);
      const w = worker;
      stopped = new Promise<void>((resolve) => {
        if (!w || exited) return resolve();
        w.once('exit', () => resolve());
        w.postMessage('stop');
      });
      return stopped;
    },
  };
}
