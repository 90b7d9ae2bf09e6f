/**
 * Metrics of the archiver process. The dead man's switch is
 * `tapstack_archive_last_success_timestamp_seconds`: read from the journal at start and after each
 * run, so a restart never blanks it (monitoring/prometheus/rules/archive.rules.yml alerts when it
 * is more than 8 days old, or absent while the archiver is up).
 */
import fs from 'node:fs';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../../services/shared/db/database.js';
import { archivedTotals, archiveRuns, isoWeekEnd, lastArchiveSuccess, oldestLiveLedgerTime } from '../../services/shared/repos/archive.repo.js';
import { isoWeek } from '../../services/shared/repos/bets.repo.js';

export function createArchiveMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'archiver' });
  collectDefaultMetrics({ register: registry, prefix: 'tapstack_' });
  const registers = [registry];
  return {
    registry,
    lastSuccess: new Gauge({
      name: 'tapstack_archive_last_success_timestamp_seconds',
      help: 'Unix time the newest week was completely archived; before the first, the end of the first week holding data (now if none)',
      registers,
    }),
    weeks: new Gauge({ name: 'tapstack_archive_weeks', help: 'Weeks archived (anchored and deleted from the primary file)', registers }),
    rows: new Gauge({ name: 'tapstack_archive_ledger_rows', help: 'Ledger rows moved to archives', registers }),
    bets: new Gauge({ name: 'tapstack_archive_bets', help: 'Bets moved to archives', registers }),
    bytes: new Gauge({ name: 'tapstack_archive_bytes', help: 'Compressed, encrypted bytes stored in the archive target', registers }),
    pending: new Gauge({ name: 'tapstack_archive_pending_weeks', help: 'Weeks journalled but not done (a run in progress or failing)', registers }),
    primaryBytes: new Gauge({ name: 'tapstack_archive_primary_file_bytes', help: 'Size of the primary SQLite file plus its WAL', registers }),
    failures: new Counter({ name: 'tapstack_archive_failures_total', help: 'Archive runs that failed, by code', labelNames: ['code'], registers }),
    running: new Gauge({ name: 'tapstack_archive_running', help: '1 while an archive run is in progress', registers }),
  };
}

export type ArchiveMetrics = ReturnType<typeof createArchiveMetrics>;

/**
 * Set the gauges from the journal and the file sizes. Before the first archived week the dead
 * man's switch counts from the end of the first week with data: a new install does not alert, an
 * install whose archival never worked does, 8 days after its first week ended.
 */
export function refreshArchiveMetrics(m: ArchiveMetrics, db: Db, now: () => number = Date.now): void {
  const oldest = oldestLiveLedgerTime(db);
  const since = lastArchiveSuccess(db) ?? (oldest === undefined ? now() : isoWeekEnd(isoWeek(oldest)));
  m.lastSuccess.set(Math.floor(since / 1000));
  const t = archivedTotals(db);
  m.weeks.set(t.weeks);
  m.rows.set(t.rows);
  m.bets.set(t.bets);
  m.bytes.set(t.bytes);
  m.pending.set(archiveRuns(db).filter((r) => r.step !== 'done').length);
  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  m.primaryBytes.set(size(db.file) + size(`${db.file}-wal`));
}
