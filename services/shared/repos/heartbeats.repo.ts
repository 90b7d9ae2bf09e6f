import type { Db } from '../db/database.js';

/** Record that `service` is alive and could write to the database just now. */
export function beat(db: Db, service: string, pid: number, now: number): void {
  db.stmt(
    'INSERT INTO heartbeats (service, pid, beat_at) VALUES (?, ?, ?) ON CONFLICT (service) DO UPDATE SET pid = excluded.pid, beat_at = excluded.beat_at',
  ).run(service, pid, now);
}
