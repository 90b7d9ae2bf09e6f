/**
 * The archive anchors' part of the live integrity check (issue 14): the anchors form an intact
 * chain (each hash recomputes, links to the previous anchor, and its ledger segment starts where
 * the previous one ended), deletion stopped at an anchored row whose hash the anchor recorded,
 * every anchored row still in the live file has the hash the anchor sealed, and once a week's
 * rows are all gone the carried-forward sums are exactly those the anchor sealed.
 */
import type { Db } from './db/database.js';
import type { Problem } from './integrity.js';
import { GENESIS_HASH } from './ledger-hash.js';
import { anchorHash, carriedSums, listAnchors, liveLedgerRow, sumsDigest } from './repos/archive.repo.js';

export function checkAnchors(db: Db, pruned: { seq: number; hash: string }, report: (p: Problem) => void): void {
  const anchors = listAnchors(db);
  let prevHash = GENESIS_HASH;
  let prevLast = 0;
  let prevLastHash = GENESIS_HASH;
  for (const a of anchors) {
    const { anchorHash: stored, ...fields } = a;
    if (anchorHash(fields) !== stored) report({ type: 'anchor-chain', message: `anchor of week ${a.week} does not match its stored hash: altered after it was written`, expected: anchorHash(fields), actual: stored });
    if (a.prevAnchorHash !== prevHash) report({ type: 'anchor-chain', message: `anchor of week ${a.week} does not link to the previous anchor`, expected: prevHash, actual: a.prevAnchorHash });
    if (a.firstSeq !== prevLast + 1 || a.hashIn !== prevLastHash) {
      report({ type: 'anchor-chain', seq: a.firstSeq, message: `anchor of week ${a.week} starts at row ${a.firstSeq} (hash in ${a.hashIn.slice(0, 12)}…), not where the previous one ended (${prevLast + 1})` });
    }
    const live = liveLedgerRow(db, a.lastSeq);
    if (a.rowCount > 0 && live && live.hash !== a.lastHash) {
      report({ type: 'anchor-link', seq: a.lastSeq, expected: a.lastHash, actual: live.hash, message: `live row ${a.lastSeq} differs from the last row the anchor of week ${a.week} sealed` });
    }
    prevHash = stored;
    prevLast = a.lastSeq;
    prevLastHash = a.lastHash;
  }
  if (pruned.seq === 0) return;
  const newest = anchors.at(-1);
  const at = anchors.find((a) => a.lastSeq === pruned.seq);
  if (!newest || pruned.seq > newest.lastSeq) {
    report({ type: 'anchor-link', seq: pruned.seq, message: `ledger rows up to ${pruned.seq} were deleted, but no archive anchor covers them` });
  } else if (at && at.lastHash !== pruned.hash) {
    report({ type: 'anchor-link', seq: pruned.seq, expected: at.lastHash, actual: pruned.hash, message: `the last deleted row's hash differs from the one the anchor of week ${at.week} sealed` });
  } else if (!at && pruned.seq < newest.firstSeq - 1) {
    report({ type: 'anchor-link', seq: pruned.seq, message: `deletion stopped at row ${pruned.seq}, inside an older archive than the newest (week ${newest.week})` });
  }
  if (newest && pruned.seq === newest.lastSeq) {
    const digest = sumsDigest(carriedSums(db));
    if (digest !== newest.carriedDigest) {
      report({ type: 'carried-mismatch', expected: newest.carriedDigest, actual: digest, message: `the carried-forward account sums differ from those the anchor of week ${newest.week} sealed` });
    }
  }
}
