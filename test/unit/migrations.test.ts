import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { openDb } from '../../services/shared/db/database.js';
import { migrate, migrationStatus } from '../../services/shared/db/migrate.js';
import { MIGRATIONS } from '../../services/shared/db/migrations/index.js';
import { tempDir } from '../helpers/env.js';

test('migration ids are contiguous and names match their files', (t) => {
  const dir = path.join(process.cwd(), 'services/shared/db/migrations');
  const files = fs.readdirSync(dir).filter((f) => /^\d{3}-.+\.ts$/.test(f)).sort();
  t.is(files.length, MIGRATIONS.length, 'every migration file is listed, and nothing else');
  MIGRATIONS.forEach((m, i) => {
    t.is(m.id, i + 1);
    t.is(files[i], `${String(m.id).padStart(3, '0')}-${m.name}.ts`);
    t.regex(m.name, /^[a-z0-9-]+$/);
  });
});

test('migrate creates the schema once, records it inside the database, and is idempotent', (t) => {
  const db = openDb(path.join(tempDir(), 'm.db'));
  t.deepEqual(migrate(db), MIGRATIONS.map((m) => m.id));
  t.deepEqual(migrate(db), []);
  const rows = db.raw.prepare('SELECT id, name FROM schema_migrations ORDER BY id').all();
  t.deepEqual(rows, MIGRATIONS.map((m) => ({ id: m.id, name: m.name })));
  t.is(db.raw.pragma('journal_mode', { simple: true }), 'wal');
  t.is(migrationStatus(db).pending.length, 0);
  db.close();
});

test('a database newer than this build is refused', (t) => {
  const db = openDb(path.join(tempDir(), 'm.db'));
  migrate(db);
  db.raw.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)').run(999, 'future', Date.now());
  t.throws(() => migrate(db), { message: /newer than this build/ });
  db.close();
});

test('a failing migration leaves no partial schema behind', (t) => {
  const db = openDb(path.join(tempDir(), 'm.db'));
  const broken = [...MIGRATIONS, { id: MIGRATIONS.length + 1, name: 'broken', up: 'CREATE TABLE half (x INTEGER); SELECT nope FROM missing;' }];
  t.throws(() => migrate(db, broken), { any: true });
  t.is(migrationStatus(db, broken).current, MIGRATIONS.length);
  t.falsy(db.raw.prepare("SELECT 1 FROM sqlite_master WHERE name = 'half'").get());
  db.close();
});
