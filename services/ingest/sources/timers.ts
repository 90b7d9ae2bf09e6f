/**
 * The timer seam every feed component schedules through, so tests and replays can run on a virtual
 * clock instead of wall time.
 */

/** Opaque handle returned by `Timers.setTimeout`. */
export type TimerHandle = unknown;

/** The two timer calls feed code needs; the system implementation wraps Node's globals. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node's real timers. */
export const systemTimers: Timers = Object.freeze({
  setTimeout: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, ms),
  clearTimeout: (handle: TimerHandle): void => clearTimeout(handle as NodeJS.Timeout),
});

/** A virtual clock: time moves only when `advance` is called, and due timers run in time order. */
export interface ManualClock extends Timers {
  now(): number;
  /** Move time forward by `ms`, running every timer that falls due on the way (including ones they schedule). */
  advance(ms: number): void;
  /** Run timers until none are left (or `maxSteps` ran, to stop runaway self-rescheduling loops). */
  runAll(maxSteps?: number): void;
  /** Number of timers still scheduled. */
  pending(): number;
}

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** Create a virtual clock starting at `startMs`. */
export function createManualClock(startMs = 0): ManualClock {
  let t = startMs;
  let seq = 0;
  const timers = new Map<number, Pending>();

  // Earliest due first; ties in scheduling order, as Node does for equal delays.
  const nextDue = (limit: number): Pending | undefined => {
    let best: Pending | undefined;
    for (const p of timers.values()) {
      if (p.at > limit) continue;
      if (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    return best;
  };

  const runOne = (p: Pending): void => {
    timers.delete(p.seq);
    t = Math.max(t, p.at);
    p.fn();
  };

  return {
    now: () => t,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: t + Math.max(0, ms), seq: id, fn });
      return id;
    },
    clearTimeout(handle) {
      if (typeof handle === 'number') timers.delete(handle);
    },
    advance(ms) {
      const target = t + ms;
      for (let p = nextDue(target); p; p = nextDue(target)) runOne(p);
      t = target;
    },
    runAll(maxSteps = 1_000_000) {
      for (let i = 0; i < maxSteps; i++) {
        const p = nextDue(Number.POSITIVE_INFINITY);
        if (!p) return;
        runOne(p);
      }
    },
    pending: () => timers.size,
  };
}
