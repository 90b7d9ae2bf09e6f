export const up = `
-- One row per process: written by readiness probes (proves the file is writable) and worker loops.
CREATE TABLE heartbeats (
  service TEXT PRIMARY KEY,
  pid     INTEGER NOT NULL,
  beat_at INTEGER NOT NULL
) STRICT;
`;
