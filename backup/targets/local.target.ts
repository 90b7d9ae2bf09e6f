/**
 * A local directory (a mounted disk, NFS share, ...) as a backup target.
 *
 * Atomicity: put writes `.<name>.tmp-<random>` beside the final file, fsyncs it, renames it over
 * the key and fsyncs the directory (and every directory it had to create), so a reader sees the
 * old object or the whole new one, and a crash leaves at most a hidden temp file that `list` skips.
 * The root directory itself is never created: if it is missing the target is "unreachable" (an
 * unmounted disk must not silently fill the disk under its mount point).
 */
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDirAsync as fsyncDir } from '../../services/shared/atomic-file.js';
import type { ObjectInfo, Target, TargetSpec } from '../contracts.js';
import { drain, randomSuffix, retryPolicy, targetError, withRetry, writeAll, type TargetOptions } from './common.js';
import { TargetError } from './errors.js';
import { prefixDir, validateKey, validatePrefix } from './object-keys.js';

export type LocalTargetSpec = Extract<TargetSpec, { type: 'local' }>;

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

export function createLocalTarget(spec: LocalTargetSpec, opts: TargetOptions = {}): Target {
  if (!spec.path) throw new TargetError('invalid-config', `local target "${spec.name}": path is required`);
  const root = path.resolve(spec.path);
  const label = `target "${spec.name}" (local:${root})`;
  const policy = retryPolicy(opts);
  const fileOf = (key: string) => path.join(root, ...validateKey(key));

  const assertRoot = async () => {
    const st = await fsp.stat(root).catch(() => undefined);
    if (!st?.isDirectory()) throw new TargetError('unreachable', `${label}: directory ${root} does not exist (not mounted?)`);
  };

  /** ENOENT of an object, unless the whole target is missing (then that is the error). */
  const missing = async (key: string) => {
    await assertRoot();
    return new TargetError('ENOENT', `${label}: no object ${JSON.stringify(key)}`);
  };

  return {
    name: spec.name,
    describe: () => `local:${root}`,

    async put(key: string, open: () => Readable, putOpts?: { size?: number }): Promise<void> {
      const file = fileOf(key);
      const dir = path.dirname(file);
      try {
        // A concurrent delete may remove a just-created empty directory; the retry recreates it.
        await withRetry(policy, { target: spec.name, op: 'put', key }, async () => {
          await assertRoot();
          const created = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
          const tmp = path.join(dir, `.${path.basename(file)}.tmp-${randomSuffix()}`);
          let fh: FileHandle | undefined;
          try {
            fh = await fsp.open(tmp, 'wx', 0o600);
            const handle = fh;
            await drain(open(), putOpts?.size, (chunk) => writeAll(handle, chunk));
            await fh.sync();
            await fh.close();
            fh = undefined;
            await fsp.rename(tmp, file);
            // The rename lives in `dir`; each directory mkdir created lives in its parent.
            const stop = created ? path.dirname(created) : dir;
            for (let d = dir; ; d = path.dirname(d)) {
              await fsyncDir(d);
              if (d === stop || d === path.dirname(d)) break;
            }
          } catch (err) {
            await fh?.close().catch(() => undefined);
            await fsp.rm(tmp, { force: true });
            throw err;
          }
        });
      } catch (err) {
        throw targetError(label, `put ${key}`, err);
      }
    },

    async get(key: string): Promise<Readable> {
      const file = fileOf(key);
      let fh: FileHandle;
      try {
        fh = await fsp.open(file, 'r');
      } catch (err) {
        if (isMissing(err)) throw await missing(key);
        throw targetError(label, `get ${key}`, err);
      }
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        throw await missing(key);
      }
      return fh.createReadStream();
    },

    async head(key: string): Promise<ObjectInfo | undefined> {
      const file = fileOf(key);
      try {
        const st = await fsp.stat(file);
        return st.isFile() ? { key, size: st.size, modifiedAt: Math.floor(st.mtimeMs) } : undefined;
      } catch (err) {
        if (!isMissing(err)) throw targetError(label, `head ${key}`, err);
        await assertRoot();
        return undefined;
      }
    },

    async list(prefix: string): Promise<ObjectInfo[]> {
      validatePrefix(prefix);
      await assertRoot();
      const out: ObjectInfo[] = [];
      try {
        await walk(root, prefixDir(prefix), prefix, out);
      } catch (err) {
        throw targetError(label, `list ${JSON.stringify(prefix)}`, err);
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async delete(keys: string[]): Promise<void> {
      const files = keys.map(fileOf);
      if (files.length === 0) return;
      await assertRoot();
      try {
        for (let i = 0; i < files.length; i += 32) {
          await Promise.all(files.slice(i, i + 32).map((f) => fsp.unlink(f).catch(ignoreGone)));
        }
      } catch (err) {
        throw targetError(label, 'delete', err);
      }
      // Best effort: drop directories the deletes emptied (rmdir refuses non-empty ones).
      for (const dir of new Set(files.map((f) => path.dirname(f)))) {
        for (let d = dir; d !== root && d.startsWith(root + path.sep); d = path.dirname(d)) {
          if (!(await fsp.rmdir(d).then(() => true, () => false))) break;
        }
      }
    },
  };
}

/** unlink errors that mean "there is no object here": gone, a directory, a missing parent. */
function ignoreGone(err: NodeJS.ErrnoException): void {
  if (!['ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM'].includes(err.code ?? '')) throw err;
}


/** Every regular, non-hidden file under `root/rel` whose key starts with `prefix`. */
async function walk(root: string, rel: string, prefix: string, out: ObjectInfo[]): Promise<void> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // temp files, never objects (see keys.ts)
    const key = rel + e.name;
    if (e.isDirectory()) {
      const dirKey = `${key}/`;
      if (dirKey.startsWith(prefix) || prefix.startsWith(dirKey)) await walk(root, dirKey, prefix, out);
    } else if (e.isFile() && key.startsWith(prefix)) {
      files.push(key);
    }
  }
  const infos = await Promise.all(
    files.map((key) =>
      fsp.stat(path.join(root, key)).then(
        (st) => ({ key, size: st.size, modifiedAt: Math.floor(st.mtimeMs) }),
        (err: unknown) => {
          if (isMissing(err)) return undefined; // deleted while we listed
          throw err;
        },
      ),
    ),
  );
  for (const i of infos) if (i) out.push(i);
}
