import type { Db } from '../db/database.js';

/** Record that `service` is alive and could write to the database just now. */
export function beat(db: Db, service: string, pid: number, now: number): void {
  db.stmt(
    'INSERT INTO heartbeats (service, pid, beat_at) VALUES (?, ?, ?) ON CONFLICT (service) DO UPDATE SET pid = excluded.pid, beat_at = excluded.beat_at',
  ).run(service, pid, now);
}

/**
 * Every heartbeat with its age at `now`; none when the database predates the heartbeats table
 * (migration 003): a restore inspects databases of any age.
 */
export function heartbeatAges(db: Db, now: number): { service: string; ageMs: number }[] {
  const has = db.stmt("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'heartbeats'").get();
  if (!has) return [];
  const rows = db.stmt('SELECT service, beat_at FROM heartbeats').all() as { service: string; beat_at: number }[];
  return rows.map((r) => ({ service: r.service, ageMs: now - r.beat_at }));
}
