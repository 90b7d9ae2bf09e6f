/**
 * `npm run bench:archive [-- --bets N]`: the disk model of weekly archival (DEPLOY.md "Disk
 * model"). Writes N bets of one ISO week into a fresh primary file exactly as the writer does
 * (stake row, bet row, settlement, payout row for a third of them), then archives the week to a
 * local target and reports bytes per bet in the primary file, in the week file and in the
 * compressed, encrypted archive, plus how long the archive run took.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runArchiver } from '../backup/archive/archiver.js';
import { generateKeyPair } from '../backup/crypto/index.js';
import { createTarget } from '../backup/targets/index.js';
import { openDb } from '../services/shared/db/database.js';
import { migrate } from '../services/shared/db/migrate.js';
import { createLogger } from '../services/shared/logger.js';
import { archiveRun, isoWeekEnd } from '../services/shared/repos/archive.repo.js';
import { HOUR, seedWeek, WEEK } from '../test/helpers/archive-fixture.js';
import { tempDir } from '../test/helpers/env.js';

const arg = process.argv.indexOf('--bets');
const bets = arg > 0 ? Number(process.argv[arg + 1]) : 100_000;
const root = tempDir('tapstack-bench-archive-');
const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
try {
  const dbFile = path.join(root, 'tapstack.db');
  const db = openDb(dbFile, { synchronous: 'NORMAL' });
  migrate(db);
  db.checkpoint();
  const empty = size(dbFile);
  let t0 = performance.now();
  // In chunks, so one transaction does not hold the whole week.
  const chunk = 20_000;
  for (let i = 0; i < bets; i += chunk) seedWeek(db, { week: WEEK, bets: Math.min(chunk, bets - i), accounts: 1_000, prefix: `c${i}` });
  db.checkpoint();
  const seedMs = performance.now() - t0;
  const primary = size(dbFile) - empty;
  fs.mkdirSync(path.join(root, 'target'));
  const target = createTarget({ type: 'local', name: 'bench', path: path.join(root, 'target') });
  t0 = performance.now();
  const result = await runArchiver({
    db, target, encryption: { recipients: [generateKeyPair().recipient] }, dir: path.join(root, 'archive'), keepLocalWeeks: 4, graceMs: 0,
    deleteBatch: 2_000, log: createLogger({ service: 'bench', level: 'warn' }), now: () => isoWeekEnd(WEEK) + HOUR,
  });
  const archiveMs = performance.now() - t0;
  const run = archiveRun(db, WEEK);
  const out = {
    bets,
    ledgerRows: run?.rowCount,
    seedMs: Math.round(seedMs),
    archiveRunMs: Math.round(archiveMs),
    primaryBytesPerBet: Math.round(primary / bets),
    weekFileBytesPerBet: Math.round((run?.plainBytes ?? 0) / bets),
    archiveBytesPerBet: Math.round(((run?.archiveBytes ?? 0) / bets) * 10) / 10,
    primaryAfterBytes: size(dbFile),
    outcome: result.weeks.map((w) => w.status),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  db.close();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
