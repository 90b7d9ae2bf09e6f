/** The checkpoint thread (checkpointer.ts): its own connection, a PASSIVE checkpoint every interval. */
import { parentPort, workerData } from 'node:worker_threads';
import { openDb, type Db } from '../shared/db/database.js';

type Pass = ReturnType<Db['checkpointPassive']>;

export interface CheckpointThreadData {
  file: string;
  /** The writer's setting: the checkpoint fsyncs the WAL and the main file under FULL and NORMAL alike. */
  synchronous: 'FULL' | 'NORMAL';
  intervalMs: number;
}

/**
 * Sent after each checkpoint (run only when something was committed), and after each failure.
 * `caughtUp`: a complete pass that copied only what was committed during the pass before it —
 * the moment for the writer's catch-up (checkpointer.ts).
 */
export type CheckpointThreadMessage = { walFrames: number; checkpointed: number; caughtUp: boolean } | { error: string };

/**
 * After a complete pass, more passes right away, each copying only what was committed during the
 * one before (so each is shorter), until one copies fewer than CHASE_FRAMES frames or CHASE_PASSES
 * ran: the writer's catch-up then copies little.
 */
const CHASE_PASSES = 3;
const CHASE_FRAMES = 64;

const port = parentPort;
if (port) {
  const data = workerData as CheckpointThreadData;
  // Never commits: only the synchronous setting (the checkpoint's fsyncs) matters on this connection.
  const db = openDb(data.file, { mustExist: true, synchronous: data.synchronous });
  let timer: NodeJS.Timeout | undefined;
  let seen = -1;
  let behind = false;
  // Every frame copied: nothing held the checkpoint back (a reader's older snapshot, another checkpoint).
  const complete = (r: Pass) => !r.busy && r.checkpointed === r.walFrames;
  const post = (r: Pass, caughtUp: boolean) =>
    port.postMessage({ walFrames: r.walFrames, checkpointed: r.checkpointed, caughtUp } satisfies CheckpointThreadMessage);
  const tick = () => {
    try {
      // Only when someone committed since the last look, or the last one could not copy it all
      // (a reader still needed older frames, or another checkpoint held the lock).
      const version = db.dataVersion();
      if (version !== seen || behind) {
        seen = version;
        let r = db.checkpointPassive();
        let restarted = false;
        for (let pass = 0; pass < CHASE_PASSES && complete(r) && r.walFrames > 0; pass++) {
          const from = r.walFrames;
          post(r, false);
          r = db.checkpointPassive();
          // Restarted meanwhile (the WAL is shorter than it was: no catch-up needed), or little came in: done.
          restarted = r.walFrames < from;
          if (restarted || r.walFrames - from < CHASE_FRAMES) break;
        }
        behind = !complete(r);
        post(r, !behind && !restarted && r.walFrames > 0);
      }
    } catch (err) {
      behind = true;
      port.postMessage({ error: (err as Error).message } satisfies CheckpointThreadMessage);
    }
    timer = setTimeout(tick, data.intervalMs);
  };
  port.on('message', (m) => {
    if (m !== 'stop') return;
    clearTimeout(timer);
    db.close();
    port.close();
  });
  tick();
}
