/**
 * The weekly archiver (issue 14). For each closed ISO week (UTC), oldest first, one step at a
 * time, each recorded in `archive_runs` so a killed run resumes at the step it had not finished:
 *
 *   planned   the week is closed, has no open bet, and its ledger segment is fixed
 *   written   bets-YYYY-Www.db built from one snapshot and checked (counts, sums, hash chain)
 *   uploaded  zstd + age to the backup recipients, stored in the archive target
 *   verified  read back from the target: SHA-256 and size equal what was uploaded
 *   anchored  the anchor row (segment, hashes, carried-forward sums, object SHA-256) committed
 *   deleted   rows gone from the primary file in short transactions (the object is checked again
 *             first: nothing is deleted unless it is there)
 *   done      space reclaimed, local week files beyond the newest N removed
 *
 * Why a process of its own and not part of the writer: compressing, encrypting and uploading a
 * week take minutes and must never stall a batch, and the writer's hot path is being tuned
 * separately. Nothing here moves money: balances are unchanged, and each delete batch moves the
 * rows' sums into `ledger_carried` in the same short IMMEDIATE transaction, so the writer only
 * ever waits for one batch (busy_timeout), never for a run. The copy reads one snapshot under a
 * deferred transaction (no write lock). Two archivers never run at once: `archive.lock`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../../services/shared/db/database.js';
import type { Logger } from '../../services/shared/logger.js';
import {
  addSums,
  archiveRun,
  archiveRuns,
  carriedSums,
  deleteArchivedBets,
  insertAnchor,
  isoWeekEnd,
  liveLedgerRow,
  newestAnchor,
  nextWeekToArchive,
  openBetsThrough,
  planRun,
  prunedThrough,
  pruneLedgerBatch,
  recordRunError,
  recordStep,
  segmentSums,
  settledBetCount,
  sumsDigest,
  weekLabel,
  weekSegment,
  type ArchiveRun,
} from '../../services/shared/repos/archive.repo.js';
import { isoWeek } from '../../services/shared/repos/bets.repo.js';
import { tryFileLock } from '../../services/shared/writer-lock.js';
import type { EncryptionSpec, Target } from '../contracts.js';
import { removeIfExists, sha256Of, sha256OfFile } from './files.js';
import { pack } from './pack.js';
import { applyLocalRetention } from './local.js';
import { ArchiveError, buildWeekFile, weekFileName, weekObjectKey } from './week-file.js';

/** Test hook: a step name at which the process is to die (the tests kill it there). */
export type CrashHook = (point: string) => void;

export interface ArchiverDeps {
  db: Db;
  target: Target;
  encryption: EncryptionSpec;
  dir: string;
  keepLocalWeeks: number;
  graceMs: number;
  deleteBatch: number;
  log: Logger;
  now: () => number;
  crash?: CrashHook;
}

export type WeekOutcome =
  | { week: string; status: 'archived'; bets: number; rows: number; archiveBytes: number; plainBytes: number; ms: number }
  | { week: string; status: 'kept-local'; reason: 'open-bets' | 'not-closed'; openBets?: number; closesAt?: string }
  | { week: string; status: 'failed'; code: string; message: string };

export interface ArchiverResult {
  busy: boolean;
  weeks: WeekOutcome[];
}

export async function runArchiver(deps: ArchiverDeps): Promise<ArchiverResult> {
  fs.mkdirSync(deps.dir, { recursive: true, mode: 0o700 });
  const lock = tryFileLock(path.join(deps.dir, 'archive.lock'));
  if (!lock) return { busy: true, weeks: [] };
  const weeks: WeekOutcome[] = [];
  try {
    for (;;) {
      let run = archiveRuns(deps.db).find((r) => r.step !== 'done');
      if (!run) {
        const planned = plan(deps);
        if ('status' in planned) {
          if (planned.week !== '') weeks.push(planned);
          break;
        }
        run = planned;
      }
      const started = Date.now();
      try {
        const done = await advance(deps, run);
        weeks.push({ week: weekLabel(run.week), status: 'archived', bets: done.betCount, rows: done.rowCount, archiveBytes: done.archiveBytes ?? 0, plainBytes: done.plainBytes ?? 0, ms: Date.now() - started });
      } catch (err) {
        const code = err instanceof ArchiveError ? err.code : 'archive-failed';
        recordRunError(deps.db, run.week, `${code}: ${(err as Error).message}`, deps.now());
        deps.log.error({ week: weekLabel(run.week), code, err: (err as Error).message }, 'archiving a week failed; the next run resumes it');
        weeks.push({ week: weekLabel(run.week), status: 'failed', code, message: (err as Error).message });
        break;
      }
    }
  } finally {
    lock.release();
  }
  return { busy: false, weeks };
}

/** The next closed week with nothing open, journalled as `planned`; or why there is none. */
function plan(deps: ArchiverDeps): ArchiveRun | WeekOutcome {
  const { db } = deps;
  const week = nextWeekToArchive(db, isoWeek);
  if (week === undefined) return { week: '', status: 'kept-local', reason: 'not-closed' };
  const closesAt = isoWeekEnd(week) + deps.graceMs;
  if (deps.now() < closesAt) return { week: weekLabel(week), status: 'kept-local', reason: 'not-closed', closesAt: new Date(closesAt).toISOString() };
  const open = openBetsThrough(db, week);
  if (open > 0) {
    deps.log.warn({ week: weekLabel(week), open }, 'a closed week still has open bets: it stays in the primary file until they are settled');
    return { week: weekLabel(week), status: 'kept-local', reason: 'open-bets', openBets: open };
  }
  db.write(() => {
    const seg = weekSegment(db, week);
    planRun(db, { week, firstSeq: seg.firstSeq, lastSeq: seg.lastSeq, betCount: settledBetCount(db, week), now: deps.now() });
  });
  deps.crash?.('planned');
  return archiveRun(db, week) as ArchiveRun;
}

/** Take a journalled week from its recorded step to `done`. */
async function advance(deps: ArchiverDeps, start: ArchiveRun): Promise<ArchiveRun> {
  const { db, log } = deps;
  const label = weekLabel(start.week);
  const file = path.join(deps.dir, weekFileName(start.week));
  const packed = path.join(deps.dir, `.${weekFileName(start.week)}.zst.age`);
  let run = start;
  const reload = () => (run = archiveRun(db, start.week) as ArchiveRun);

  if (run.step === 'planned') {
    const hashIn = newestAnchor(db)?.lastHash;
    const seg = weekSegment(db, run.week);
    if (seg.firstSeq !== run.firstSeq) throw new ArchiveError('journal-mismatch', `week ${label}: planned from row ${run.firstSeq} but the anchors end at ${seg.firstSeq - 1}`);
    if ((prunedThrough(db)?.seq ?? 0) !== run.firstSeq - 1) throw new ArchiveError('journal-mismatch', `week ${label}: the previous week's rows are not all deleted yet`);
    deps.crash?.('writing');
    const { meta } = buildWeekFile(db, deps.dir, { week: run.week, firstSeq: run.firstSeq, lastSeq: run.lastSeq, hashIn: hashIn ?? seg.hashIn, betCount: run.betCount }, carriedSums(db), deps.now());
    const plain = await sha256OfFile(file);
    recordStep(db, run.week, 'written', deps.now(), { plainSha256: plain.sha256, plainBytes: plain.bytes });
    log.info({ week: label, bets: meta.betCount, rows: meta.rowCount, bytes: plain.bytes }, 'week file written and checked');
    deps.crash?.('written');
    reload();
  }

  if (run.step === 'written') {
    const plain = fs.existsSync(file) ? await sha256OfFile(file) : undefined;
    if (plain?.sha256 !== run.plainSha256) {
      // The checked file is gone or changed since: build it again from the primary file.
      recordStep(db, run.week, 'planned', deps.now());
      return advance(deps, reload());
    }
    await pack(file, packed, deps.encryption);
    const obj = await sha256OfFile(packed);
    const key = weekObjectKey(run.week);
    await deps.target.put(key, () => fs.createReadStream(packed), { size: obj.bytes });
    deps.crash?.('uploading');
    recordStep(db, run.week, 'uploaded', deps.now(), { archiveKey: key, archiveSha256: obj.sha256, archiveBytes: obj.bytes });
    log.info({ week: label, key, bytes: obj.bytes, target: deps.target.describe() }, 'week archive uploaded');
    deps.crash?.('uploaded');
    reload();
  }

  if (run.step === 'uploaded') {
    const problem = await remoteProblem(deps.target, run, true);
    if (problem) {
      // Not anchored yet: upload it again on the next run.
      recordStep(db, run.week, 'written', deps.now());
      throw problem;
    }
    recordStep(db, run.week, 'verified', deps.now());
    removeIfExists(packed);
    deps.crash?.('verified');
    reload();
  }

  if (run.step === 'verified') {
    const r = run;
    db.write(() => {
      if (newestAnchor(db)?.week === r.week) return; // anchored before a crash: only the journal is behind
      const live = r.rowCount > 0 ? liveLedgerRow(db, r.lastSeq) : undefined;
      if (r.rowCount > 0 && !live) throw new ArchiveError('journal-mismatch', `week ${label}: row ${r.lastSeq} is not in the primary file`);
      const closing = addSums(carriedSums(db), segmentSums(db, r.firstSeq, r.lastSeq));
      insertAnchor(db, {
        week: r.week,
        firstSeq: r.firstSeq,
        lastSeq: r.lastSeq,
        hashIn: newestAnchor(db)?.lastHash ?? weekSegment(db, r.week).hashIn,
        lastHash: live?.hash ?? newestAnchor(db)?.lastHash ?? weekSegment(db, r.week).hashIn,
        rowCount: r.rowCount,
        betCount: r.betCount,
        carriedDigest: sumsDigest(closing),
        plainSha256: r.plainSha256 ?? '',
        archiveSha256: r.archiveSha256 ?? '',
        archiveBytes: r.archiveBytes ?? 0,
        archiveKey: r.archiveKey ?? '',
        createdAt: deps.now(),
      });
      recordStep(db, r.week, 'anchored', deps.now());
    });
    log.info({ week: label, firstSeq: r.firstSeq, lastSeq: r.lastSeq }, 'ledger anchor appended');
    deps.crash?.('anchored');
    reload();
  }

  if (run.step === 'anchored') {
    // Checked again right before the first delete (and on every resumed run): the object must still be there.
    const problem = await remoteProblem(deps.target, run, true);
    if (problem) throw problem;
    let first = true;
    for (;;) {
      const n = db.write(() => pruneLedgerBatch(db, run.lastSeq, deps.deleteBatch));
      if (n === 0) break;
      if (first) deps.crash?.('deleting');
      first = false;
      await new Promise((r) => setImmediate(r));
    }
    while (db.write(() => deleteArchivedBets(db, run.week, deps.deleteBatch)) > 0) await new Promise((r) => setImmediate(r));
    recordStep(db, run.week, 'deleted', deps.now());
    deps.crash?.('deleted');
    reload();
  }

  if (run.step === 'deleted') {
    reclaim(db);
    fs.chmodSync(file, 0o444);
    applyLocalRetention(db, deps.dir, deps.keepLocalWeeks, log);
    recordStep(db, run.week, 'done', deps.now(), { finishedAt: deps.now() });
    log.info({ week: label }, 'week archived');
    reload();
  }
  return run;
}

/** Whether the archive object is missing or differs from what was uploaded (`full`: read it back). */
async function remoteProblem(target: Target, run: ArchiveRun, full: boolean): Promise<ArchiveError | undefined> {
  const key = run.archiveKey ?? weekObjectKey(run.week);
  const head = await target.head(key);
  if (!head) return new ArchiveError('archive-missing', `week ${weekLabel(run.week)}: ${key} is not in ${target.describe()}`);
  if (head.size !== run.archiveBytes) return new ArchiveError('archive-corrupt', `week ${weekLabel(run.week)}: ${key} has ${head.size} bytes, ${run.archiveBytes} were uploaded`);
  if (!full) return undefined;
  const got = await sha256Of(await target.get(key));
  if (got.sha256 !== run.archiveSha256) return new ArchiveError('archive-corrupt', `week ${weekLabel(run.week)}: ${key} reads back with SHA-256 ${got.sha256}, ${run.archiveSha256} was uploaded`);
  return undefined;
}

/**
 * Give the freed pages back to the file system: `incremental_vacuum` when the file was created
 * with auto_vacuum = INCREMENTAL (new installs), then a checkpoint so the WAL copies the shrunk
 * file. A file created without it reuses the free pages for new rows instead (it stops growing);
 * `tapstack archive compact` converts it once, offline (DEPLOY.md).
 */
function reclaim(db: Db): void {
  if (Number(db.raw.pragma('auto_vacuum', { simple: true })) === 2) {
    while (Number(db.raw.pragma('freelist_count', { simple: true })) > 0) {
      db.write(() => db.raw.pragma('incremental_vacuum(2000)'));
    }
  }
  db.checkpoint();
}
