/**
 * Numbered migrations, each in its own transaction, with their state kept inside the database
 * (`schema_migrations`), so a restored backup carries its own schema version.
 */
import type { Db } from './database.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export interface MigrationStatus {
  readonly current: number;
  readonly latest: number;
  readonly pending: readonly Migration[];
}

function ensureTable(db: Db): void {
  db.raw.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
}

/** Highest applied migration id, or 0 (also 0 for a read-only db that has none). */
export function schemaVersion(db: Db): number {
  const exists = db.raw.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'").get();
  if (!exists) return 0;
  const row = db.raw.prepare('SELECT MAX(id) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

export function migrationStatus(db: Db, migrations: readonly Migration[] = MIGRATIONS): MigrationStatus {
  const current = schemaVersion(db);
  const latest = migrations.at(-1)?.id ?? 0;
  return { current, latest, pending: migrations.filter((m) => m.id > current) };
}

/**
 * Apply every pending migration in order; returns the ids applied. Refuses a database whose
 * schema is newer than this build knows (a downgrade would corrupt it silently).
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS, now: () => number = Date.now): number[] {
  ensureTable(db);
  const { current, latest, pending } = migrationStatus(db, migrations);
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this build (${latest}); refusing to run an older Tapstack on it`);
  }
  const applied: number[] = [];
  for (const m of pending) {
    db.write(() => {
      // Re-check inside the write lock: another process may have migrated meanwhile.
      if (schemaVersion(db) >= m.id) return;
      db.raw.exec(m.up);
      db.raw.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)').run(m.id, m.name, now());
      applied.push(m.id);
    });
  }
  return applied;
}
