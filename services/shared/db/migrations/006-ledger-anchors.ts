/*
 * Ledger anchors: what stays in this file when a closed week's ledger rows move to an archive
 * (issue 14). One row per archived ISO week, append-only and hash-chained among themselves
 * (anchor_hash covers every column and the previous anchor's hash), so an edited anchor breaks
 * the anchor chain and an edited last_hash breaks the link to the first live ledger row.
 *
 * A separate table and not a ledger row: a ledger row must name an account and move a non-zero
 * amount (migration 002's CHECKs and triggers); relaxing that would mean rebuilding the ledger.
 *
 * Balances: `ledger_carried` holds, per account, the sum and count of every ledger row that has
 * left this file; every balance equals carried + the sum of its live rows. `carried_digest` in
 * each anchor seals that table as it must be once the anchor's rows are deleted.
 * `ledger_pruned` is how far deletion has got (rows <= through_seq are gone): deletion runs in
 * short batches, each moving its sums into `ledger_carried` in the same transaction.
 */
import { GENESIS_HASH } from './002-ledger.js';

export const up = `
CREATE TABLE ledger_anchors (
  week             INTEGER PRIMARY KEY,
  first_seq        INTEGER NOT NULL,
  last_seq         INTEGER NOT NULL,
  hash_in          TEXT NOT NULL CHECK (length(hash_in) = 64),
  last_hash        TEXT NOT NULL CHECK (length(last_hash) = 64),
  row_count        INTEGER NOT NULL CHECK (row_count >= 0),
  bet_count        INTEGER NOT NULL CHECK (bet_count >= 0),
  carried_digest   TEXT NOT NULL CHECK (length(carried_digest) = 64),
  plain_sha256     TEXT NOT NULL CHECK (length(plain_sha256) = 64),
  archive_sha256   TEXT NOT NULL CHECK (length(archive_sha256) = 64),
  archive_bytes    INTEGER NOT NULL,
  archive_key      TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  prev_anchor_hash TEXT NOT NULL CHECK (length(prev_anchor_hash) = 64),
  anchor_hash      TEXT NOT NULL CHECK (length(anchor_hash) = 64),
  CHECK (row_count = last_seq - first_seq + 1)
) STRICT;

CREATE TRIGGER ledger_anchors_no_update BEFORE UPDATE ON ledger_anchors
BEGIN SELECT RAISE(ABORT, 'ledger_anchors is append-only: UPDATE refused'); END;
CREATE TRIGGER ledger_anchors_no_delete BEFORE DELETE ON ledger_anchors
BEGIN SELECT RAISE(ABORT, 'ledger_anchors is append-only: DELETE refused'); END;
CREATE TRIGGER ledger_anchors_chain BEFORE INSERT ON ledger_anchors
WHEN NEW.week <= COALESCE((SELECT MAX(week) FROM ledger_anchors), 0)
  OR NEW.first_seq IS NOT COALESCE((SELECT last_seq FROM ledger_anchors ORDER BY week DESC LIMIT 1), 0) + 1
  OR NEW.hash_in IS NOT COALESCE((SELECT last_hash FROM ledger_anchors ORDER BY week DESC LIMIT 1), '${GENESIS_HASH}')
  OR NEW.prev_anchor_hash IS NOT COALESCE((SELECT anchor_hash FROM ledger_anchors ORDER BY week DESC LIMIT 1), '${GENESIS_HASH}')
BEGIN SELECT RAISE(ABORT, 'ledger_anchors: anchor does not extend the archived chain'); END;

CREATE TABLE ledger_carried (
  address TEXT PRIMARY KEY,
  amount  INTEGER NOT NULL,
  row_count INTEGER NOT NULL
) STRICT;

CREATE TABLE ledger_pruned (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  through_seq  INTEGER NOT NULL,
  through_hash TEXT NOT NULL CHECK (length(through_hash) = 64)
) STRICT;
`;
