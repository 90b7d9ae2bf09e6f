/**
 * Redis pub/sub channel names. ioredis prefixes keys but not channels, so every channel carries
 * the configured prefix explicitly: two installations sharing one Redis never hear each other.
 */
export interface Channels {
  /** Settlement ticks: `{priceCents, ts}`. */
  ticks: string;
  /** Grid quotes (the full quote JSON). */
  quotes: string;
  /** Breaker transitions: `{state, changedAt}`. */
  breaker: string;
  /** Per-player events: PlayerEvent (betting/commands.ts): bet confirmations, rejections, settlements. */
  userEvents: string;
}

export function channels(prefix: string): Channels {
  return { ticks: `${prefix}ticks`, quotes: `${prefix}quotes`, breaker: `${prefix}breaker`, userEvents: `${prefix}user-events` };
}
