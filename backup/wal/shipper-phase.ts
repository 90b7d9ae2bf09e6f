/**
 * The WAL shipper's states and the only moves between them (its state machine, made explicit):
 *   stopped ──start──▶ running (resuming a generation) ──resume failed──▶ need-generation
 *   need-generation ──base taken──▶ base-pending ──base stored──▶ running
 *   running ──rollover──▶ base-pending;  running | base-pending ──discontinuity──▶ need-generation
 *   any ──abandon (target down too long, base failed)──▶ need-generation;  any ──stop──▶ stopped
 */
export type Phase = 'stopped' | 'need-generation' | 'base-pending' | 'running';

const NEXT: Record<Phase, readonly Phase[]> = {
  stopped: ['running'],
  running: ['need-generation', 'base-pending', 'stopped'],
  'need-generation': ['need-generation', 'base-pending', 'stopped'],
  // base-pending → base-pending: a rollover's new base queued behind an older generation's.
  'base-pending': ['base-pending', 'running', 'need-generation', 'stopped'],
};

/** The next phase; a move the machine does not have is a bug, not a state to carry on from. */
export function nextPhase(from: Phase, to: Phase): Phase {
  if (!NEXT[from].includes(to)) throw new Error(`internal: the WAL shipper cannot go from ${from} to ${to}`);
  return to;
}

/** Phases in which the shipper reads the WAL and ships segments. */
export const isShipping = (p: Phase) => p === 'running' || p === 'base-pending';
