/** Accounts. Balances are read here but only ever changed by ledger.repo's postMovement. */
import type { Db } from '../db/database.js';

export interface User {
  id: number;
  address: string;
  balance: number;
  createdAt: number;
}

interface UserRow {
  id: number;
  address: string;
  balance: number;
  created_at: number;
}

const toUser = (r: UserRow): User => ({ id: r.id, address: r.address, balance: r.balance, createdAt: r.created_at });

export function findUser(db: Db, address: string): User | undefined {
  const row = db.stmt('SELECT id, address, balance, created_at FROM users WHERE address = ?').get(address) as UserRow | undefined;
  return row && toUser(row);
}

/** Create the account if missing. Returns the account and whether this call created it. */
export function ensureUser(db: Db, address: string, now: number): { user: User; created: boolean } {
  const info = db.stmt('INSERT INTO users (address, balance, created_at) VALUES (?, 0, ?) ON CONFLICT (address) DO NOTHING').run(address, now);
  const user = findUser(db, address);
  if (!user) throw new Error(`account ${address} vanished after insert`);
  return { user, created: info.changes === 1 };
}

/** Every account's balance (the writer's cache rebuild), read at once rather than held open. */
export function allBalances(db: Db): { address: string; balance: number }[] {
  return db.stmt('SELECT address, balance FROM users').all() as { address: string; balance: number }[];
}
