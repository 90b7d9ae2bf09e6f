/** The checkpoint thread (checkpointer.ts): its own connection, a PASSIVE checkpoint every interval. */
import { parentPort, workerData } from 'node:worker_threads';
import { openDb } from '../shared/db/database.js';

export interface CheckpointThreadData {
  file: string;
  /** The writer's setting: the checkpoint fsyncs the WAL and the main file under FULL and NORMAL alike. */
  synchronous: 'FULL' | 'NORMAL';
  intervalMs: number;
}

/** Sent after each checkpoint (run only when something was committed), and after each failure. */
export type CheckpointThreadMessage = { walFrames: number; checkpointed: number } | { error: string };

const port = parentPort;
if (port) {
  const data = workerData as CheckpointThreadData;
  // Never commits: only the synchronous setting (the checkpoint's fsyncs) matters on this connection.
  const db = openDb(data.file, { mustExist: true, synchronous: data.synchronous });
  let timer: NodeJS.Timeout | undefined;
  let seen = -1;
  let behind = false;
  const tick = () => {
    try {
      // Only when someone committed since the last look, or the last one could not copy it all
      // (a reader still needed older frames, or another checkpoint held the lock).
      const version = db.dataVersion();
      if (version !== seen || behind) {
        seen = version;
        const r = db.checkpointPassive();
        behind = r.busy || r.checkpointed < r.walFrames;
        port.postMessage({ walFrames: r.walFrames, checkpointed: r.checkpointed } satisfies CheckpointThreadMessage);
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
