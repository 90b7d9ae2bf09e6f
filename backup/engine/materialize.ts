/**
 * Turn a backup back into files: fetch, check and decrypt every chunk, write each file as
 * `<name>.part` and rename it only after its whole-file SHA-256 matched the manifest (age streams
 * plaintext before the end is authenticated, so nothing unverified ever carries a final name).
 * Also the key-less check: read back every chunk and compare its ciphertext with what was stored.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DecryptionSpec, Target } from '../contracts.js';
import { chunkObjectKey, type TapstackManifest } from '../snapshot/manifest.js';
import type { KnownChunks } from './catalog.js';
import { BackupError, describeError } from './errors.js';
import type { Progress } from './progress.js';
import { fetchChunk, hashObject, mapLimit, storedDamage } from './store.js';

export interface MaterializeOptions {
  target: Target;
  manifest: TapstackManifest;
  known: KnownChunks;
  spec: DecryptionSpec;
  destDir: string;
  progress: Progress;
  /** Only these files (default: all). */
  only?: (name: string) => boolean;
  /** 'throw' stops at the first problem (restore); 'collect' checks everything and lists problems (verify). */
  onProblem: 'throw' | 'collect';
  concurrency?: number;
}

export interface MaterializeResult {
  files: { name: string; path: string; size: number }[];
  problems: string[];
  /** Objects the given key(s) cannot open ('collect' only): a problem of the key, not the backup. */
  wrongKey: string[];
  bytes: number;
}

export async function materialize(o: MaterializeOptions): Promise<MaterializeResult> {
  const files = o.manifest.files.filter((f) => (o.only ? o.only(f.name) : true));
  const total = files.reduce((n, f) => n + f.size, 0);
  const task = o.progress.task(`${o.target.name}: download + decrypt`, total);
  const out: MaterializeResult = { files: [], problems: [], wrongKey: [], bytes: 0 };
  try {
    for (const f of files) {
      const dest = path.join(o.destDir, ...f.name.split('/'));
      if (!dest.startsWith(o.destDir + path.sep)) throw new BackupError('bad-manifest', `${o.target.name}: backup ${o.manifest.id} names a file outside the restore directory: ${f.name}`);
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      const part = `${dest}.part`;
      const fh = await fs.promises.open(part, 'w', 0o600);
      let fileOk = true;
      try {
        let offset = 0;
        const placed = f.chunks.map((c) => {
          const at = offset;
          offset += c.size;
          return { ...c, at };
        });
        await mapLimit(placed, o.concurrency ?? 4, async (c) => {
          try {
            const key = chunkObjectKey(c);
            const plain = await fetchChunk(o.target, key, c, o.spec, o.known.get(key) ?? { sizes: new Set([c.stored.size]), hashes: new Set([c.stored.sha256]) });
            await fh.write(plain, 0, plain.length, c.at);
            task.add(plain.length);
            out.bytes += plain.length;
          } catch (err) {
            fileOk = false;
            if (o.onProblem === 'throw') throw err;
            if (err instanceof BackupError && err.code === 'wrong-key') out.wrongKey.push(String(err.details?.key ?? chunkObjectKey(c)));
            // Object-level errors name their object already (and match the read-back check's wording).
            const objectLevel = err instanceof BackupError && err.details?.key !== undefined;
            out.problems.push(objectLevel ? describeError(err) : `${f.name}: ${describeError(err)}`);
          }
        });
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (!fileOk) {
        fs.rmSync(part, { force: true });
        continue;
      }
      const got = await hashLocalFile(part);
      if (got.sha256 !== f.sha256 || got.size !== f.size) {
        fs.rmSync(part, { force: true });
        // No hash in the message: it lands in verify records, which are not encrypted.
        const msg = `${f.name}: the restored file does not match the manifest (size ${got.size}/${f.size}, SHA-256 differs)`;
        if (o.onProblem === 'throw') throw new BackupError('file-mismatch', `${o.target.name}: backup ${o.manifest.id}: ${msg}`);
        out.problems.push(msg);
        continue;
      }
      fs.chmodSync(part, f.mode ?? 0o600);
      fs.renameSync(part, dest);
      out.files.push({ name: f.name, path: dest, size: f.size });
    }
  } finally {
    task.done();
  }
  return out;
}

/** Key-less check: every chunk object a backup uses exists and its ciphertext is one that was stored. */
export async function checkStoredChunks(o: { target: Target; objects: ReadonlyMap<string, { size: number; sha256: string }>; known: KnownChunks; progress: Progress; concurrency?: number }): Promise<{ problems: string[]; objects: number; bytes: number }> {
  const chunks = o.objects;
  const total = [...chunks.values()].reduce((n, s) => n + s.size, 0);
  const task = o.progress.task(`${o.target.name}: read back`, total);
  const problems: string[] = [];
  let bytes = 0;
  await mapLimit([...chunks], o.concurrency ?? 4, async ([key, stored]) => {
    try {
      const got = await hashObject(o.target, key);
      bytes += got.size;
      task.add(got.size);
      const known = o.known.get(key) ?? { sizes: new Set([stored.size]), hashes: new Set([stored.sha256]) };
      const damage = storedDamage(o.target, key, got, known);
      if (damage) problems.push(damage.message);
    } catch (err) {
      problems.push(describeError(err));
    }
  });
  task.done();
  return { problems: problems.sort(), objects: chunks.size, bytes };
}

export async function hashLocalFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}
