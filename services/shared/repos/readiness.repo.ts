/** Reads a readiness probe makes to prove the database answers queries, not only that it opens. */
import type { Db } from '../db/database.js';

/** Touch the open-bets index the resolver reads every pass (throws when the database cannot answer). */
export function probeOpenBets(db: Db): void {
  db.stmt("SELECT 1 FROM bets WHERE state = 'open' LIMIT 1").get();
}
