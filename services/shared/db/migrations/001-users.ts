export const up = `
CREATE TABLE users (
  id         INTEGER PRIMARY KEY,
  -- EIP-55 checksummed address; the API and CLI normalise before they get here.
  address    TEXT NOT NULL UNIQUE CHECK (length(address) = 42 AND substr(address, 1, 2) = '0x'),
  -- Minor units of the currency. Changed only together with the ledger row that explains it.
  balance    INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
  created_at INTEGER NOT NULL
) STRICT;
`;
