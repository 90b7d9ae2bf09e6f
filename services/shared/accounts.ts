/**
 * Account operations on top of the ledger: admin credit/debit (idempotent on an external ref)
 * and the demo-mode starting grant. Each is one IMMEDIATE transaction in the primary file.
 */
import type { Db } from './db/database.js';
import { badRequest } from './errors.js';
import { ensureUser, findUser } from './repos/users.repo.js';
import { postMovement, type MovementResult } from './repos/ledger.repo.js';

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
 * Credit creates the account if it does not exist yet (a deposit may precede the first sign-in);
 * debit needs an existing account and never takes the balance below zero.
 */
export function adminMovement(db: Db, m: AdminMovement, now: number): MovementResult {
  if (!Number.isSafeInteger(m.amount) || m.amount <= 0) throw badRequest('invalid-amount', 'amount must be positive');
  validateExternalRef(m.ref);
  return db.write(() => {
    if (m.direction === 'credit') ensureUser(db, m.address, now);
    const meta: Record<string, unknown> = {};
    if (m.note) meta.note = m.note;
    if (m.operator) meta.operator = m.operator;
    return postMovement(
      db,
      {
        address: m.address,
        kind: m.direction,
        amount: m.direction === 'credit' ? m.amount : -m.amount,
        ref: m.ref,
        meta: Object.keys(meta).length ? meta : null,
      },
      now,
    );
  });
}

/**
 * Sign-in bookkeeping: create the account on first sign-in and, in demo mode, grant the starting
 * balance once, in the transaction that creates the account (ref `demo:<address>` guards it too).
 */
export function onSignIn(db: Db, address: string, demo: { enabled: boolean; grant: number }, now: number) {
  return db.write(() => {
    const { created } = ensureUser(db, address, now);
    let granted = 0;
    if (created && demo.enabled && demo.grant > 0) {
      const r = postMovement(db, { address, kind: 'demo-grant', amount: demo.grant, ref: `demo:${address}` }, now);
      if (!r.replayed) granted = demo.grant;
    }
    const user = findUser(db, address);
    if (!user) throw new Error(`account ${address} missing after sign-in`);
    return { user, created, granted };
  });
}
