/*
 * Which writer-queue entry committed a bet, and which settled it (Redis stream ids `<ms>-<seq>`).
 * The writer derives every cache effect and every player event from the committed row: an entry
 * that comes back after a crash (redelivered) and finds its own id here re-sends what may have
 * been lost; any other entry for the same bet (a re-sent reservation script, a duplicate
 * settlement) is recognised as a repeat and changes nothing in the book.
 */
export const up = `
ALTER TABLE bets ADD COLUMN queue_id TEXT;
ALTER TABLE bets ADD COLUMN settled_by TEXT;
`;
