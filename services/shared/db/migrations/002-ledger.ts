export const GENESIS_HASH = '0'.repeat(64);

export const up = `
-- Kinds are rows, not a CHECK list, so later migrations can add kinds without rebuilding the ledger.
CREATE TABLE ledger_kinds (
  kind        TEXT PRIMARY KEY,
  sign        INTEGER NOT NULL CHECK (sign IN (-1, 1)),
  description TEXT NOT NULL
) STRICT;
INSERT INTO ledger_kinds (kind, sign, description) VALUES
  ('credit', 1, 'admin credit (deposit, correction)'),
  ('debit', -1, 'admin debit (withdrawal, correction)'),
  ('demo-grant', 1, 'demo-mode starting balance at first sign-in');

-- Append-only, hash-chained: hash = sha256 of the row's fields and prev_hash (see ledger-hash.ts).
CREATE TABLE ledger (
  seq           INTEGER PRIMARY KEY,
  created_at    INTEGER NOT NULL,
  address       TEXT NOT NULL REFERENCES users (address),
  kind          TEXT NOT NULL REFERENCES ledger_kinds (kind),
  amount        INTEGER NOT NULL CHECK (amount <> 0),
  balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
  ref           TEXT NOT NULL UNIQUE,
  meta          TEXT,
  prev_hash     TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash          TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;
CREATE INDEX ledger_address_seq ON ledger (address, seq);
CREATE INDEX ledger_created_at ON ledger (created_at);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger is append-only: UPDATE refused'); END;

CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger is append-only: DELETE refused'); END;

CREATE TRIGGER ledger_sign BEFORE INSERT ON ledger
WHEN NEW.amount * (SELECT sign FROM ledger_kinds WHERE kind = NEW.kind) <= 0
BEGIN SELECT RAISE(ABORT, 'ledger: amount sign does not match its kind'); END;

CREATE TRIGGER ledger_chain BEFORE INSERT ON ledger
WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM ledger), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1), '${GENESIS_HASH}')
BEGIN SELECT RAISE(ABORT, 'ledger: row does not extend the chain head'); END;

-- The balance must already carry this row's amount: ties every balance change to its ledger row
-- inside the same transaction.
CREATE TRIGGER ledger_balance BEFORE INSERT ON ledger
WHEN NEW.balance_after IS NOT (SELECT balance FROM users WHERE address = NEW.address)
BEGIN SELECT RAISE(ABORT, 'ledger: balance_after differs from the account balance'); END;
`;
