/**
 * `tapstack integrity check --archives`: the live check, plus a walk from the genesis through every
 * archived week (a local file, or fetched from the archive target) to the live ledger: each week
 * file must be the one its anchor sealed (plaintext SHA-256), hold the anchored segment with an
 * intact hash chain whose balance_after values follow on from the weeks before, and the account
 * sums of all archives together must equal the carried-forward sums in the primary file. With
 * `remote`, each week's stored object is also read back and compared with its anchor, so a lost
 * or damaged archive is found even while a good local copy exists.
 *
 * Balances across archives: the anchors carry the per-account carried-forward sums (sealed by
 * `carried_digest`), so the daily live check needs no archive; this walk re-derives them.
 */
import type { Db } from '../../services/shared/db/database.js';
import { checkIntegrity, type IntegrityReport, type Problem } from '../../services/shared/integrity.js';
import { addSums, carriedSums, listAnchors, prunedThrough, sumsDigest, weekLabel, type AccountSum, type Anchor } from '../../services/shared/repos/archive.repo.js';
import { weekAccountSums } from '../../services/shared/repos/week-file.repo.js';
import { sha256OfFile } from './files.js';
import { ArchiveError, checkWeekFile, withWeekFile } from './week-file.js';

export interface ArchivesReport extends IntegrityReport {
  archives: { week: string; rows: number; bets: number; ok: boolean }[];
}

export async function checkArchives(
  db: Db,
  weekFile: (a: Anchor) => Promise<string>,
  opts: { maxListed?: number; remote?: (a: Anchor) => Promise<ArchiveError | undefined> } = {},
): Promise<ArchivesReport> {
  const live = checkIntegrity(db, opts);
  const problems: Problem[] = [...live.problems];
  let problemCount = live.problemCount;
  const report = (p: Problem) => {
    problemCount += 1;
    if (problems.length < (opts.maxListed ?? 100)) problems.push(p);
  };
  const archives: ArchivesReport['archives'] = [];
  let sums: AccountSum[] = [];
  let complete = true;
  let rows = 0;
  for (const a of listAnchors(db)) {
    const before = problemCount;
    const remote = await opts.remote?.(a);
    if (remote) report({ type: remote.code === 'archive-missing' ? 'archive-missing' : 'archive-corrupt', message: remote.message });
    let file: string;
    try {
      file = await weekFile(a);
    } catch (err) {
      const type = err instanceof ArchiveError && (err.code === 'archive-corrupt' || err.code === 'archive-missing') ? err.code : 'archive-missing';
      report({ type, message: `week ${weekLabel(a.week)}: ${(err as Error).message}` });
      archives.push({ week: weekLabel(a.week), rows: a.rowCount, bets: a.betCount, ok: false });
      complete = false;
      continue;
    }
    const plain = await sha256OfFile(file);
    if (plain.sha256 !== a.plainSha256) {
      report({ type: 'archive-corrupt', expected: a.plainSha256, actual: plain.sha256, message: `week ${weekLabel(a.week)}: ${file} is not the file its anchor sealed` });
    }
    for (const p of checkWeekFile(file, { week: a.week, firstSeq: a.firstSeq, lastSeq: a.lastSeq, hashIn: a.hashIn, betCount: a.betCount }, sums, a.lastHash)) report(p);
    sums = addSums(sums, withWeekFile(file, weekAccountSums));
    rows += a.rowCount;
    archives.push({ week: weekLabel(a.week), rows: a.rowCount, bets: a.betCount, ok: problemCount === before });
  }
  const newest = listAnchors(db).at(-1);
  if (complete && newest && prunedThrough(db)?.seq === newest.lastSeq) {
    const carried = sumsDigest(carriedSums(db));
    if (sumsDigest(sums) !== carried) report({ type: 'carried-mismatch', expected: sumsDigest(sums), actual: carried, message: 'the archives\' account sums differ from the sums carried forward in the primary file' });
  }
  // Rows still live but also archived (a deletion in progress) are counted once.
  const liveOnly = live.rows - Math.max(0, (newest?.lastSeq ?? 0) - (prunedThrough(db)?.seq ?? 0));
  return { ...live, ok: problemCount === 0, rows: rows + liveOnly, problemCount, problems, archives };
}
