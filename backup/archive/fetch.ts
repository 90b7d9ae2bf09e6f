/**
 * `tapstack archive fetch <week>`: bring an archived week back from the archive target into the
 * local archive directory, proven against its anchor before it is renamed into place: the object's
 * SHA-256, the plaintext's SHA-256, and the week file's own check (counts, hash chain segment).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Db } from '../../services/shared/db/database.js';
import { listAnchors, weekLabel, type Anchor } from '../../services/shared/repos/archive.repo.js';
import type { DecryptionSpec, Target } from '../contracts.js';
import { commitFile, removeIfExists, sha256Of, sha256OfFile } from './files.js';
import { localWeekFile } from './local.js';
import { unpack } from './pack.js';
import { ArchiveError, weekFileName } from './week-file.js';

export function anchorOf(db: Db, week: number): Anchor {
  const a = listAnchors(db).find((x) => x.week === week);
  if (!a) throw new ArchiveError('not-archived', `week ${weekLabel(week)} has no archive anchor: it was never archived (its rows are in the primary file)`);
  return a;
}

/** Download, check and unpack an archived week; returns the local file (already there: as is). */
export async function fetchWeek(a: Anchor, dir: string, target: Target, decryption: DecryptionSpec | undefined, opts: { force?: boolean } = {}): Promise<string> {
  const existing = localWeekFile(dir, a.week);
  if (existing && !opts.force) return existing;
  if (!decryption) throw new ArchiveError('no-identity', 'fetching an archive needs the key that decrypts backups: pass --identity FILE or set TAPSTACK_BACKUP_IDENTITY_FILE');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const label = weekLabel(a.week);
  const object = path.join(dir, `.${weekFileName(a.week)}.zst.age.download`);
  const file = path.join(dir, weekFileName(a.week));
  const tmp = `${file}.fetch`;
  try {
    const stream = await target.get(a.archiveKey).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new ArchiveError('archive-missing', `week ${label}: ${a.archiveKey} is not in ${target.describe()}`);
      throw err;
    });
    await pipeline(stream, fs.createWriteStream(`${object}.tmp`));
    commitFile(`${object}.tmp`, object);
    const got = await sha256OfFile(object);
    if (got.sha256 !== a.archiveSha256) throw new ArchiveError('archive-corrupt', `week ${label}: ${a.archiveKey} has SHA-256 ${got.sha256}, the anchor sealed ${a.archiveSha256}`);
    await unpack(fs.createReadStream(object), tmp, decryption).catch((err: Error) => {
      throw new ArchiveError('archive-corrupt', `week ${label}: ${a.archiveKey} does not decrypt and decompress (${err.message})`);
    });
    const plain = await sha256OfFile(tmp);
    if (plain.sha256 !== a.plainSha256) throw new ArchiveError('archive-corrupt', `week ${label}: the unpacked file has SHA-256 ${plain.sha256}, the anchor sealed ${a.plainSha256}`);
    fs.chmodSync(tmp, 0o444);
    removeIfExists(file);
    commitFile(tmp, file);
    return file;
  } finally {
    removeIfExists(object);
    removeIfExists(`${object}.tmp`);
    removeIfExists(tmp);
  }
}

/** Whether the stored object of an anchored week is missing or not the one the anchor sealed. */
export async function remoteArchiveProblem(a: Anchor, target: Target): Promise<ArchiveError | undefined> {
  const label = weekLabel(a.week);
  const stream = await target.get(a.archiveKey).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stream) return new ArchiveError('archive-missing', `week ${label}: ${a.archiveKey} is not in ${target.describe()}`);
  const got = await sha256Of(stream);
  if (got.sha256 !== a.archiveSha256 || got.bytes !== a.archiveBytes) {
    return new ArchiveError('archive-corrupt', `week ${label}: ${a.archiveKey} (${got.bytes} B, SHA-256 ${got.sha256}) is not the object the anchor sealed (${a.archiveBytes} B, ${a.archiveSha256})`);
  }
  return undefined;
}
