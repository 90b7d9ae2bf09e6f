/*
 * The archiver's journal (issue 14): one row per ISO week being archived, with the last step that
 * completed, so a killed run resumes where it stopped. Steps in order:
 *   planned → written (week file built and checked locally) → uploaded (compressed, encrypted,
 *   stored) → verified (read back from the target) → anchored (anchor row committed) →
 *   deleted (rows gone from this file) → done (space reclaimed, local retention applied).
 */
export const up = `
CREATE TABLE archive_runs (
  week           INTEGER PRIMARY KEY,
  step           TEXT NOT NULL CHECK (step IN ('planned', 'written', 'uploaded', 'verified', 'anchored', 'deleted', 'done')),
  first_seq      INTEGER NOT NULL,
  last_seq       INTEGER NOT NULL,
  row_count      INTEGER NOT NULL,
  bet_count      INTEGER NOT NULL,
  plain_sha256   TEXT,
  plain_bytes    INTEGER,
  archive_key    TEXT,
  archive_sha256 TEXT,
  archive_bytes  INTEGER,
  started_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  finished_at    INTEGER,
  error          TEXT
) STRICT;
`;
