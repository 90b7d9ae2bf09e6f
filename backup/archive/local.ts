/**
 * The local, read-only week files (TAPSTACK_ARCHIVE_DIR): the newest N archived weeks stay here,
 * queryable without a download; older ones live only in the archive target until
 * `tapstack archive fetch <week>` brings one back.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../../services/shared/db/database.js';
import type { Logger } from '../../services/shared/logger.js';
import { listAnchors, type Anchor } from '../../services/shared/repos/archive.repo.js';
import { weekFileName } from './week-file.js';

/** The local file of an archived week, if present. */
export function localWeekFile(dir: string, week: number): string | undefined {
  const file = path.join(dir, weekFileName(week));
  return fs.existsSync(file) ? file : undefined;
}

/** Anchored weeks with and without a local file, oldest first. */
export function localWeeks(db: Db, dir: string): { local: { anchor: Anchor; file: string }[]; remoteOnly: Anchor[] } {
  const local: { anchor: Anchor; file: string }[] = [];
  const remoteOnly: Anchor[] = [];
  for (const anchor of listAnchors(db)) {
    const file = localWeekFile(dir, anchor.week);
    if (file) local.push({ anchor, file });
    else remoteOnly.push(anchor);
  }
  return { local, remoteOnly };
}

/** Remove local files of anchored weeks older than the newest `keep` (fetched weeks included). */
export function applyLocalRetention(db: Db, dir: string, keep: number, log: Logger): string[] {
  const anchored = listAnchors(db).map((a) => a.week);
  const keepFrom = anchored.length > keep ? anchored[anchored.length - keep] : undefined;
  const removed: string[] = [];
  if (keepFrom === undefined && keep > 0) return removed;
  for (const week of anchored) {
    if (keepFrom !== undefined && week >= keepFrom) continue;
    const file = localWeekFile(dir, week);
    if (!file) continue;
    fs.rmSync(file, { force: true });
    removed.push(path.basename(file));
  }
  if (removed.length) log.info({ removed }, 'local week files beyond the retention removed (they stay in the archive target)');
  return removed;
}
