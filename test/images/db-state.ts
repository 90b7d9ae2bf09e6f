/**
 * What the images' restart tests compare across a stop and start: every table's row count, the
 * hash of the ledger's first rows, and what the rows after them moved per address (a bet whose
 * window ended while the appliance was down is settled at start: a new row, never a changed one).
 * Read inside a container with the image's own better-sqlite3.
 */
export interface DbState {
  rows: Record<string, number>;
  /** sha256 of the ledger's first `ledgerRows` rows (default: all of them). */
  ledger: string;
  /** Sum of the amounts of the ledger rows after the first `ledgerRows`, by lower-case address. */
  movedAfter: Record<string, number>;
}

type Exec = (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

export async function dbState(exec: Exec, ledgerRows?: number): Promise<DbState> {
  const script = `
    const Database = require('/app/node_modules/better-sqlite3');
    const crypto = require('node:crypto');
    const db = new Database('/data/tapstack.db', { readonly: true });
    const rows = {};
    for (const { name } of db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'").all()) rows[name] = db.prepare('select count(*) as n from "' + name + '"').get().n;
    const first = ${ledgerRows ?? 'rows.ledger ?? 0'};
    const all = 'ledger' in rows ? db.prepare('select * from ledger order by rowid').all() : [];
    const ledger = crypto.createHash('sha256').update(JSON.stringify(all.slice(0, first))).digest('hex');
    const movedAfter = {};
    for (const r of all.slice(first)) movedAfter[r.address.toLowerCase()] = (movedAfter[r.address.toLowerCase()] ?? 0) + r.amount;
    console.log(JSON.stringify({ rows, ledger, movedAfter }));`;
  const r = await exec(['node', '-e', script]);
  if (r.code !== 0) throw new Error(`reading the database: ${r.stderr}`);
  return JSON.parse(r.stdout) as DbState;
}

/**
 * A balance read through the API and a database state that agree: read the state, the balance,
 * and the state again, until no ledger row was added in between (a settlement at that moment).
 * `ledgerRows` as for dbState: the rows of an earlier state, to see what moved since.
 */
export async function balanceAndState(exec: Exec, balance: () => Promise<number>, ledgerRows?: number): Promise<{ balance: number; state: DbState }> {
  for (let attempt = 1; ; attempt++) {
    const state = await dbState(exec, ledgerRows);
    const b = await balance();
    const again = await dbState(exec, ledgerRows);
    if (again.rows.ledger === state.rows.ledger || attempt >= 5) return { balance: b, state };
  }
}
