/**
 * The ledger: the only code that moves money. Every balance change is an UPDATE of `users` and an
 * INSERT of the ledger row that explains it, in the same transaction (the triggers of migration 002
 * refuse anything else), and every row extends the hash chain.
 */
import type { Db } from '../db/database.js';
import { AppError, conflict } from '../errors.js';
import { GENESIS_HASH, ledgerRowHash, type HashedFields } from '../ledger-hash.js';
import { MAX_AMOUNT } from '../money.js';

/** A ledger row: the hashed fields plus the hash that seals them. */
export type LedgerEntry = HashedFields & { hash: string };

export interface Movement {
  address: string;
  kind: string;
  /** Signed minor units: positive credits, negative debits. */
  amount: number;
  /** Unique reference; a second movement with the same ref is a replay, not a new movement. */
  ref: string;
  meta?: Record<string, unknown> | null;
}

export interface MovementResult {
  entry: LedgerEntry;
  /** True if the ref already existed with the same content: nothing moved this time. */
  replayed: boolean;
}

interface LedgerRow {
  seq: number;
  created_at: number;
  address: string;
  kind: string;
  amount: number;
  balance_after: number;
  ref: string;
  meta: string | null;
  prev_hash: string;
  hash: string;
}

const COLUMNS = 'seq, created_at, address, kind, amount, balance_after, ref, meta, prev_hash, hash';

export const toEntry = (r: LedgerRow): LedgerEntry => ({
  seq: r.seq,
  createdAt: r.created_at,
  address: r.address,
  kind: r.kind,
  amount: r.amount,
  balanceAfter: r.balance_after,
  ref: r.ref,
  meta: r.meta,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export function findByRef(db: Db, ref: string): LedgerEntry | undefined {
  const row = db.stmt(`SELECT ${COLUMNS} FROM ledger WHERE ref = ?`).get(ref) as LedgerRow | undefined;
  return row && toEntry(row);
}

/** Whether an address has any ledger row (a wallet that never had money moved). */
export function hasLedgerRows(db: Db, address: string): boolean {
  return db.stmt('SELECT 1 FROM ledger WHERE address = ? LIMIT 1').get(address) !== undefined;
}

export function ledgerHead(db: Db): { seq: number; hash: string } {
  const row = db.stmt('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  if (row) return row;
  // Every live row archived (issue 14): the chain goes on from the last row that left the file.
  if (!hasTable(db, 'ledger_pruned')) return { seq: 0, hash: GENESIS_HASH };
  const pruned = db.stmt('SELECT through_seq AS seq, through_hash AS hash FROM ledger_pruned WHERE id = 1').get() as { seq: number; hash: string } | undefined;
  return pruned ?? { seq: 0, hash: GENESIS_HASH };
}

/**
 * The chain head carried through one transaction: read from the file at the first movement, then
 * advanced by each row posted through it, so a batch of N movements reads the head once, not N
 * times. It reads at its first use, so use one per transaction and drop it with the transaction
 * (a rolled-back batch starts a new one).
 */
export interface ChainCursor {
  head(): { seq: number; hash: string };
  advance(seq: number, hash: string): void;
}

export function chainCursor(db: Db): ChainCursor {
  let head: { seq: number; hash: string } | undefined;
  return {
    head: () => (head ??= ledgerHead(db)),
    advance: (seq, hash) => {
      head = { seq, hash };
    },
  };
}

/**
 * Post one movement. Must run inside `db.write()`; `chain` (from `chainCursor`, made in the same
 * transaction) saves reading the head again for each movement of a batch. Idempotent on `ref`: an identical replay returns
 * the original row; a different movement under a used ref is a `ref-conflict`.
 * Refuses to take a balance below zero (`insufficient-funds`) with a conditional UPDATE.
 */
export function postMovement(db: Db, m: Movement, now: number, chain: ChainCursor = chainCursor(db)): MovementResult {
  if (!Number.isSafeInteger(m.amount) || m.amount === 0 || Math.abs(m.amount) > MAX_AMOUNT) {
    throw new AppError(400, 'invalid-amount', `amount must be a non-zero integer of minor units, got ${m.amount}`);
  }
  const meta = m.meta ? JSON.stringify(m.meta) : null;
  const existing = findByRef(db, m.ref);
  if (existing) {
    if (existing.address === m.address && existing.kind === m.kind && existing.amount === m.amount) {
      return { entry: existing, replayed: true };
    }
    throw conflict('ref-conflict', `ref "${m.ref}" was already used for a different movement (seq ${existing.seq})`, {
      seq: existing.seq,
    });
  }
  // Not `RETURNING balance`: better-sqlite3 runs a RETURNING statement several times slower than
  // the UPDATE and a SELECT by the unique index together (bench/README.md, "writer").
  const { changes } = db.stmt('UPDATE users SET balance = balance + ? WHERE address = ? AND balance + ? >= 0').run(m.amount, m.address, m.amount);
  const user = db.stmt('SELECT balance FROM users WHERE address = ?').get(m.address) as { balance: number } | undefined;
  const updated = changes === 1 ? user : undefined;
  if (!updated) {
    if (!user) throw new AppError(404, 'unknown-account', `no account for ${m.address}`);
    throw new AppError(409, 'insufficient-funds', `balance ${user.balance} is less than ${-m.amount}`, {
      balance: user.balance,
      requested: -m.amount,
    });
  }
  if (updated.balance > MAX_AMOUNT) throw new AppError(400, 'invalid-amount', 'resulting balance is too large');
  const head = chain.head();
  const fields = {
    seq: head.seq + 1,
    createdAt: now,
    address: m.address,
    kind: m.kind,
    amount: m.amount,
    balanceAfter: updated.balance,
    ref: m.ref,
    meta,
    prevHash: head.hash,
  };
  const hash = ledgerRowHash(fields);
  db.stmt(`INSERT INTO ledger (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
    fields.seq,
    fields.createdAt,
    fields.address,
    fields.kind,
    fields.amount,
    fields.balanceAfter,
    fields.ref,
    fields.meta,
    fields.prevHash,
    hash,
  );
  chain.advance(fields.seq, hash);
  // Spelled out, not `{ ...fields, hash }`: a spread followed by a property is several times the garbage.
  const entry: LedgerEntry = { seq: fields.seq, createdAt: fields.createdAt, address: fields.address, kind: fields.kind, amount: fields.amount, balanceAfter: fields.balanceAfter, ref: fields.ref, meta: fields.meta, prevHash: fields.prevHash, hash };
  return { entry, replayed: false };
}

export interface LedgerFilter {
  address?: string;
  ref?: string;
  kind?: string;
  /** Inclusive lower bound, ms since epoch. */
  since?: number;
  /** Exclusive upper bound, ms since epoch. */
  until?: number;
  /** Return rows with seq greater than this (paging). */
  afterSeq?: number;
  limit: number;
}

/** Rows matching every given criterion, oldest first. */
export function queryLedger(db: Db, f: LedgerFilter): LedgerEntry[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.address !== undefined) (where.push('address = ?'), args.push(f.address));
  if (f.ref !== undefined) (where.push('ref = ?'), args.push(f.ref));
  if (f.kind !== undefined) (where.push('kind = ?'), args.push(f.kind));
  if (f.since !== undefined) (where.push('created_at >= ?'), args.push(f.since));
  if (f.until !== undefined) (where.push('created_at < ?'), args.push(f.until));
  if (f.afterSeq !== undefined) (where.push('seq > ?'), args.push(f.afterSeq));
  const sql = `SELECT ${COLUMNS} FROM ledger ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`;
  return (db.raw.prepare(sql).all(...args, f.limit) as LedgerRow[]).map(toEntry);
}

export function ledgerKinds(db: Db): { kind: string; sign: number; description: string }[] {
  return db.stmt('SELECT kind, sign, description FROM ledger_kinds ORDER BY kind').all() as { kind: string; sign: number; description: string }[];
}

/** Every ledger row in chain order, streamed (for the integrity check). */
export function iterateLedger(db: Db): IterableIterator<LedgerEntry> {
  const it = db.raw.prepare(`SELECT ${COLUMNS} FROM ledger ORDER BY seq`).iterate() as IterableIterator<LedgerRow>;
  return (function* () {
    for (const row of it) yield toEntry(row);
  })();
}

/**
 * Every account with its stored balance and the sum of its ledger rows, live rows plus the sums
 * carried forward from archived weeks (`ledger_carried`, issue 14); includes orphan rows.
 */
export function balancesAgainstLedger(db: Db): { address: string; balance: number | null; ledgerSum: number; rows: number }[] {
  // A file from before migration 006 (a backup being drilled before it is migrated) has nothing carried.
  const carried = hasTable(db, 'ledger_carried') ? 'UNION ALL SELECT address, amount, row_count FROM ledger_carried' : '';
  return db
    .stmt(
      `WITH l AS (
         SELECT address, SUM(amount) AS total, SUM(n) AS n FROM (
           SELECT address, amount, 1 AS n FROM ledger
           ${carried}) GROUP BY address)
       SELECT u.address AS address, u.balance AS balance, COALESCE(l.total, 0) AS ledgerSum, COALESCE(l.n, 0) AS rows
         FROM users u LEFT JOIN l ON l.address = u.address
       UNION ALL
       SELECT l.address, NULL, l.total, l.n FROM l
        WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.address = l.address)`,
    )
    .all() as { address: string; balance: number | null; ledgerSum: number; rows: number }[];
}

/** Whether a table exists (files older than a migration are still read by drills and restores). */
export function hasTable(db: Db, name: string): boolean {
  return db.stmt("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}
