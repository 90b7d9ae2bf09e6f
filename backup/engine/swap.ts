/**
 * The swap of a restore: every file the backup replaces goes to the rollback directory, then the
 * restored file is renamed into place (rename(2) within the data volume; copy + rename across
 * volumes, e.g. a separate TLS volume). Not one atomic step for the whole set: a crash mid-way
 * leaves each file either old or new, and the old ones in the rollback directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir as fsyncDirStrict, moveAcross } from '../../services/shared/atomic-file.js';
import type { Config } from '../../services/shared/config.js';
import { DB_NAME, RDB_NAME } from '../snapshot/files.js';
import type { TapstackManifest } from '../snapshot/manifest.js';
import type { RestorePlan } from './restore.js';

/** Move each replaced file to the rollback dir, then rename the restored one into place. */
export function swapIn(o: { config: Config }, plan: Pick<RestorePlan, 'rollbackDir' | 'files'>, tmp: string, m: TapstackManifest, report: { moved: { name: string; from: string; to: string }[] }): void {
  const aside = (from: string, name: string) => {
    if (!fs.existsSync(from)) return;
    const to = path.join(plan.rollbackDir, ...name.split('/'));
    fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
    moveAcross(from, to);
    report.moved.push({ name, from, to });
  };
  fs.mkdirSync(plan.rollbackDir, { recursive: true, mode: 0o700 });
  // A stale WAL applied to the restored database would corrupt it; a stale AOF would shadow the RDB.
  aside(`${o.config.dbFile}-wal`, `${DB_NAME}-wal`);
  aside(`${o.config.dbFile}-shm`, `${DB_NAME}-shm`);
  const redisDir = path.join(o.config.dataDir, 'redis');
  const hasRdb = m.files.some((f) => f.name === RDB_NAME);
  if (hasRdb) aside(path.join(redisDir, 'appendonlydir'), 'redis/appendonlydir');
  for (const f of plan.files) {
    if (!f.dest) continue;
    const restored = path.join(tmp, ...f.name.split('/'));
    if (!fs.existsSync(restored)) continue;
    aside(f.dest, f.name);
    fs.mkdirSync(path.dirname(f.dest), { recursive: true, mode: 0o700 });
    moveAcross(restored, f.dest);
    fsyncDir(path.dirname(f.dest));
  }
  if (hasRdb) {
    // Redis with `appendonly yes` loads the AOF, not dump.rdb, and starts EMPTY when there is none:
    // make the restored RDB the base of a fresh multi-part AOF.
    const aofDir = path.join(redisDir, 'appendonlydir');
    fs.mkdirSync(aofDir, { recursive: true, mode: 0o700 });
    fs.copyFileSync(path.join(redisDir, 'dump.rdb'), path.join(aofDir, 'appendonly.aof.1.base.rdb'));
    fs.writeFileSync(path.join(aofDir, 'appendonly.aof.manifest'), 'file appendonly.aof.1.base.rdb seq 1 type b\n', { mode: 0o600 });
    fsyncDir(aofDir);
  }
  fsyncDir(o.config.dataDir);
}

/** `<data>.pre-restore-<t>` beside the data dir when it is on the same filesystem, else inside it. */
/** Best effort: a TLS volume may refuse fsync on a directory; the rename already happened. */
const fsyncDir = (dir: string) => fsyncDirStrict(dir, { bestEffort: true });

export function rollbackLocation(dataDir: string, stamp: string): string {
  const parent = path.dirname(dataDir);
  try {
    const same = !fs.existsSync(dataDir) || fs.statSync(parent).dev === fs.statSync(dataDir).dev;
    fs.accessSync(parent, fs.constants.W_OK);
    if (same) return `${dataDir}.pre-restore-${stamp}`;
  } catch {
    /* not writable: fall through */
  }
  return path.join(dataDir, `.pre-restore-${stamp}`);
}

