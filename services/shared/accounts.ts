/**
 * Account operations on top of the ledger: admin credit/debit (idempotent on an external ref)
 * and the demo-mode starting grant, as movement requests the writer commits (movements.ts).
 */
import type { Db } from './db/database.js';
import { badRequest } from './errors.js';
import type { MoveRequest } from './betting/movements.js';
import { ensureUser } from './repos/users.repo.js';
import { hasLedgerRows, postMovement, type MovementResult } from './repos/ledger.repo.js';

/** Prefixes of refs the system writes itself; operators cannot use them. */
export const RESERVED_REF_PREFIXES = ['bet:', 'demo:', 'sys:'] as const;
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._:\/#@+-]{0,127}$/;

export function validateExternalRef(ref: string): string {
  if (!REF_RE.test(ref)) {
    throw badRequest('invalid-ref', 'ref must be 1-128 characters: letters, digits and . _ : / # @ + - (starting with a letter or digit)');
  }
  const reserved = RESERVED_REF_PREFIXES.find((p) => ref.startsWith(p));
  if (reserved) throw badRequest('invalid-ref', `refs starting with "${reserved}" are reserved for the system`);
  return ref;
}

export interface AdminMovement {
  address: string;
  direction: 'credit' | 'debit';
  /** Positive minor units. */
  amount: number;
  ref: string;
  note?: string;
  operator?: string;
}

/**
 * An admin movement as the writer's movement request. Credit creates the account if it does not
 * exist yet (a deposit may precede the first sign-in); debit needs an existing account and never
 * takes the balance below zero.
 */
export function adminMovementRequest(m: AdminMovement): MoveRequest {
  if (!Number.isSafeInteger(m.amount) || m.amount <= 0) throw badRequest('invalid-amount', 'amount must be positive');
  validateExternalRef(m.ref);
  const meta: Record<string, unknown> = {};
  if (m.note) meta.note = m.note;
  if (m.operator) meta.operator = m.operator;
  return {
    address: m.address,
    kind: m.direction,
    amount: m.direction === 'credit' ? m.amount : -m.amount,
    ref: m.ref,
    meta: Object.keys(meta).length ? meta : null,
    createAccount: m.direction === 'credit',
  };
}

/**
 * Commit a movement request directly. Only for the admin CLI while it holds the writer's lock
 * (no writer running): the writer is otherwise the one process that moves money.
 */
export function commitMovementLocked(db: Db, m: MoveRequest, now: number): MovementResult {
  return db.write(() => {
    if (m.createAccount) ensureUser(db, m.address, now);
    return postMovement(db, { address: m.address, kind: m.kind, amount: m.amount, ref: m.ref, meta: m.meta }, now);
  });
}

/** The demo starting grant as a movement request (ref `demo:<address>`: granted once). */
export const demoGrantRequest = (address: string, grant: number): MoveRequest => ({ address, kind: 'demo-grant', amount: grant, ref: `demo:${address}`, meta: null, createAccount: true });

/**
 * Sign-in bookkeeping: create the account on first sign-in (no money moves here). Returns whether
 * a demo grant is due: demo mode on and the wallet has no ledger row yet (so a grant that could not
 * be queued at the first sign-in is asked for again at the next one).
 */
export function onSignIn(db: Db, address: string, demo: { enabled: boolean; grant: number }, now: number) {
  return db.write(() => {
    const { user, created } = ensureUser(db, address, now);
    const grantDue = demo.enabled && demo.grant > 0 && !hasLedgerRows(db, address);
    return { user, created, grantDue };
  });
}

/**
 * An admin movement committed directly: the CLI's locked path (cli/context.ts) and fixtures that
 * seed a database before any writer runs. Never call it while a writer runs.
 */
export function adminMovement(db: Db, m: AdminMovement, now: number): MovementResult {
  return commitMovementLocked(db, adminMovementRequest(m), now);
}
