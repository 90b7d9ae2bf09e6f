/**
 * The ledger integrity check, shared by `tapstack integrity check` and the scheduler's daily run.
 * Reads one consistent snapshot (a read transaction in WAL mode does not block writers) and proves:
 * the hash chain is intact (every row's hash recomputes and links to its predecessor, seq is
 * contiguous), every row's balance_after equals the running sum of its account, every balance equals
 * the sum of its ledger rows, and the append-only triggers are in place.
 *
 * Archived weeks (issue 14): the live chain is checked from the newest archive anchor (the last
 * row deleted, `ledger_pruned`), running sums start from the per-account sums carried forward
 * (`ledger_carried`), and the anchors themselves must form an intact chain that the live ledger
 * extends. `checkArchives` (integrity-archives.ts) walks genesis → every archive → the live file.
 */
import type { Db } from './db/database.js';
import { GENESIS_HASH, ledgerRowHash } from './ledger-hash.js';
import { checkAnchors } from './integrity-anchors.js';
import { carriedSums, prunedThrough } from './repos/archive.repo.js';
import { balancesAgainstLedger, hasTable, iterateLedger, type LedgerEntry } from './repos/ledger.repo.js';
import { triggerNames } from './repos/schema.repo.js';

export type ProblemType =
  | 'chain-seq-gap'
  | 'chain-broken-link'
  | 'chain-hash-mismatch'
  | 'balance-after-mismatch'
  | 'balance-mismatch'
  | 'orphan-ledger-rows'
  | 'trigger-missing'
  | 'anchor-chain'
  | 'anchor-link'
  | 'carried-mismatch'
  | 'archive-missing'
  | 'archive-corrupt'
  | 'archive-mismatch';

export interface Problem {
  type: ProblemType;
  message: string;
  seq?: number;
  address?: string;
  expected?: string | number;
  actual?: string | number | null;
}

export interface IntegrityReport {
  ok: boolean;
  checkedAt: number;
  durationMs: number;
  rows: number;
  accounts: number;
  head: { seq: number; hash: string };
  /** Total number of problems; `problems` lists at most `maxListed` of them. */
  problemCount: number;
  problems: Problem[];
}

const REQUIRED_TRIGGERS = ['ledger_no_update', 'ledger_no_delete', 'ledger_chain', 'ledger_balance', 'ledger_sign', 'ledger_anchors_no_update', 'ledger_anchors_no_delete', 'ledger_anchors_chain'];

export type Report = (p: Problem) => void;

/**
 * Walk ledger rows in chain order from (prevSeq, prevHash), checking seq continuity, links,
 * hashes and balance_after against `running` (updated in place). Shared by the live check and
 * the archive walk. Returns the last seq and hash.
 */
export function walkChain(rows: Iterable<LedgerEntry>, start: { seq: number; hash: string }, running: Map<string, number>, report: Report): { seq: number; hash: string; rows: number } {
  let prevHash = start.hash;
  let prevSeq = start.seq;
  let n = 0;
  for (const e of rows) {
    n += 1;
    if (e.seq !== prevSeq + 1) {
      report({ type: 'chain-seq-gap', seq: e.seq, expected: prevSeq + 1, actual: e.seq, message: `seq ${e.seq} follows ${prevSeq}` });
    }
    if (e.prevHash !== prevHash) {
      report({ type: 'chain-broken-link', seq: e.seq, expected: prevHash, actual: e.prevHash, message: `row ${e.seq} does not link to the hash of row ${prevSeq}` });
    }
    const recomputed = ledgerRowHash(e);
    if (recomputed !== e.hash) {
      report({
        type: 'chain-hash-mismatch',
        seq: e.seq,
        address: e.address,
        expected: recomputed,
        actual: e.hash,
        message: `row ${e.seq} (${e.kind} ${e.amount} ref ${e.ref}) does not match its stored hash: altered after it was written`,
      });
    }
    const sum = (running.get(e.address) ?? 0) + e.amount;
    running.set(e.address, sum);
    if (e.balanceAfter !== sum) {
      report({
        type: 'balance-after-mismatch',
        seq: e.seq,
        address: e.address,
        expected: sum,
        actual: e.balanceAfter,
        message: `row ${e.seq} says balance ${e.balanceAfter} but the account's rows sum to ${sum}`,
      });
    }
    // Chain on the stored hash so one altered row is reported once, not at every later row.
    prevHash = e.hash;
    prevSeq = e.seq;
  }
  return { seq: prevSeq, hash: prevHash, rows: n };
}

export function checkIntegrity(db: Db, opts: { now?: () => number; maxListed?: number } = {}): IntegrityReport {
  const now = opts.now ?? Date.now;
  const maxListed = opts.maxListed ?? 100;
  const started = performance.now();
  const problems: Problem[] = [];
  let problemCount = 0;
  const report = (p: Problem) => {
    problemCount += 1;
    if (problems.length < maxListed) problems.push(p);
  };

  // One read transaction: every check sees the same snapshot.
  const snapshot = db.raw.transaction(() => {
    checkTriggers(db, report);
    const { rows, head } = checkChain(db, report);
    const accounts = checkBalances(db, report);
    return { rows, accounts, head };
  })();

  return {
    ok: problemCount === 0,
    checkedAt: now(),
    durationMs: Math.round(performance.now() - started),
    ...snapshot,
    problemCount,
    problems,
  };
}

/** The append-only triggers are in place (the anchors' ones once the file has the anchors table). */
function checkTriggers(db: Db, report: Report): void {
  const present = triggerNames(db);
  for (const name of REQUIRED_TRIGGERS.filter((n) => hasTable(db, 'ledger_anchors') || !n.startsWith('ledger_anchors'))) {
    if (!present.has(name)) report({ type: 'trigger-missing', message: `protective trigger ${name} is missing` });
  }
}

/** The live chain, from the newest archive anchor on; its row count and head. */
function checkChain(db: Db, report: Report): { rows: number; head: { seq: number; hash: string } } {
  // From the newest archive anchor on: rows up to `pruned` live in week files (checkArchives).
  // A file from before migration 006 (a backup drilled before it is migrated) has no archive.
  const archived = hasTable(db, 'ledger_anchors');
  const pruned = (archived && prunedThrough(db)) || { seq: 0, hash: GENESIS_HASH };
  const running = new Map((archived ? carriedSums(db) : []).map((c) => [c.address, c.amount]));
  if (archived) checkAnchors(db, pruned, report);
  const walked = walkChain(iterateLedger(db), pruned, running, report);
  return { rows: walked.rows, head: { seq: walked.seq, hash: walked.hash } };
}

/** Every balance equals the sum of its ledger rows, and no rows name a missing account; the account count. */
function checkBalances(db: Db, report: Report): number {
  let accounts = 0;
  for (const b of balancesAgainstLedger(db)) {
    if (b.balance === null) {
      report({
        type: 'orphan-ledger-rows',
        address: b.address,
        expected: 0,
        actual: b.rows,
        message: `${b.rows} ledger rows name ${b.address}, which has no account`,
      });
      continue;
    }
    accounts += 1;
    if (b.balance !== b.ledgerSum) {
      report({
        type: 'balance-mismatch',
        address: b.address,
        expected: b.ledgerSum,
        actual: b.balance,
        message: `${b.address} has balance ${b.balance} but its ${b.rows} ledger rows sum to ${b.ledgerSum}`,
      });
    }
  }
  return accounts;
}
