/*
 * The ledger's protective triggers learn about archival (issue 14):
 * - DELETE is still refused for every row not sealed by an anchor (seq above the newest anchor's
 *   last_seq): only archived, remotely verified rows may leave the live file;
 * - the chain head survives deleting every live row: when the ledger table is empty the next row
 *   extends `ledger_pruned` (seq and hash of the last row that left), not the genesis.
 */
import { GENESIS_HASH } from './002-ledger.js';

export const up = `
DROP TRIGGER ledger_no_delete;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
WHEN OLD.seq > COALESCE((SELECT MAX(last_seq) FROM ledger_anchors), 0)
BEGIN SELECT RAISE(ABORT, 'ledger is append-only: DELETE refused (only rows sealed by an archive anchor may leave)'); END;

DROP TRIGGER ledger_chain;
CREATE TRIGGER ledger_chain BEFORE INSERT ON ledger
WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM ledger), (SELECT through_seq FROM ledger_pruned), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1), (SELECT through_hash FROM ledger_pruned), '${GENESIS_HASH}')
BEGIN SELECT RAISE(ABORT, 'ledger: row does not extend the chain head'); END;
`;
