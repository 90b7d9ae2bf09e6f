/** Reads of the schema itself (sqlite_master), for checks that the database protects itself. */
import type { Db } from '../db/database.js';

/** Names of every trigger in the database. */
export function triggerNames(db: Db): Set<string> {
  return new Set((db.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[]).map((r) => r.name));
}
