/**
 * A remote directory reached with rsync, either an rsync daemon (`rsync://user@host:port/module/path`,
 * password in `passwordFile`) or rsync over ssh (`ssh://user@host:port/path`, `sshKeyFile` +
 * `knownHostsFile`, strict host key checking). Everything, including delete, is done with plain
 * rsync transfers, so it works with a key restricted by `command="/usr/bin/rrsync DIR",restrict`
 * (the recommended set-up: the appliance can then touch nothing but its backup directory).
 *
 * Atomicity: put first stages the whole stream into a private local temp file, then transfers that
 * one file. The rsync receiver writes into a hidden temp file (`.name.XXXXXX`) in the destination
 * directory and renames it over the key only once the file is complete, so a plain single-file
 * transfer is atomic for readers; `--fsync` makes the data durable before the rename. A killed
 * transfer may leave a hidden temp file, which `list` never reports (keys cannot start with `.`).
 * We do not use --inplace, --append, --partial or --delay-updates, which would change that.
 * Requires rsync >= 3.2.4 on both ends (--fsync, --mkpath; Debian 12 ships 3.2.7).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ObjectInfo, Target, TargetSpec } from '../contracts.js';
import { drain, retryPolicy, targetError, withRetry, writeAll, type TargetOptions } from './common.js';
import { TargetError } from './errors.js';
import { isHiddenPath, prefixDir, validateKey, validatePrefix } from './object-keys.js';
import { isRemoteMissing, parseListing, parseRsyncUrl, rsyncError, runRsync, type RsyncResult } from './rsync-cli.js';

export type RsyncTargetSpec = Extract<TargetSpec, { type: 'rsync' }>;

/** Keys per delete run (each key is two filter rules; rsync matches every name against them). */
const DELETE_BATCH = 1000;

export function createRsyncTarget(spec: RsyncTargetSpec, opts: TargetOptions = {}): Target {
  const bad = (msg: string) => new TargetError('invalid-config', `rsync target "${spec.name}": ${msg}`);
  const remote = parseRsyncUrl(spec, bad);
  const label = `target "${spec.name}" (${remote.display})`;
  const policy = retryPolicy(opts);
  const tmpRoot = opts.tmpDir ?? os.tmpdir();

  /** Run rsync, retrying transient failures; resolves with the result of the last run. */
  const rsync = (op: string, args: string[], accept: (r: RsyncResult) => boolean = () => false) =>
    withRetry(policy, { target: spec.name, op }, async () => {
      const r = await runRsync([...remote.args, ...args], opts.log);
      if (r.code === 0 || accept(r)) return r;
      throw rsyncError(r, label, op);
    });

  /** A private (0700) staging directory for one operation, always removed afterwards. */
  const staged = async <T>(fn: (dir: string) => Promise<T>): Promise<T> => {
    const dir = await fsp.mkdtemp(path.join(tmpRoot, 'tapstack-rsync-'));
    try {
      return await fn(dir);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  };

  return {
    name: spec.name,
    describe: () => remote.display,

    async put(key: string, open: () => Readable, putOpts?: { size?: number }): Promise<void> {
      const segs = validateKey(key);
      const name = segs.pop() ?? '';
      const parent = segs.length ? `${segs.join('/')}/` : '';
      await staged(async (dir) => {
        const file = path.join(dir, name);
        // Stage once (re-opening the stream if it fails), then retry only the transfer.
        try {
          await withRetry(policy, { target: spec.name, op: 'put:stage', key }, async () => {
            const fh = await fsp.open(file, 'w', 0o600);
            try {
              await drain(open(), putOpts?.size, (chunk) => writeAll(fh, chunk));
            } finally {
              await fh.close();
            }
          });
        } catch (err) {
          throw targetError(label, `put ${key}`, err);
        }
        // Into the parent directory, not onto the key: rrsync pins an existing destination file
        // as /proc/self/fd/N, which rsync then cannot replace. -I: never skip on size+mtime
        // ("quick check"); -W: no delta against the old version.
        await rsync(`put ${key}`, ['-I', '-W', '--fsync', '--mkpath', '--', file, remote.operand(parent)]);
      });
    },

    async get(key: string): Promise<Readable> {
      const rel = validateKey(key).join('/');
      return staged(async (dir) => {
        const file = path.join(dir, 'object');
        const r = await rsync(`get ${key}`, ['-I', '-W', '--', remote.operand(rel), file], isRemoteMissing);
        const fh = await fsp.open(file, 'r').catch(() => undefined); // absent: missing, or a directory
        if (r.code !== 0 || !fh) throw new TargetError('ENOENT', `${label}: no object ${JSON.stringify(key)}`);
        // The open handle keeps the data readable after `staged` removes the directory.
        return fh.createReadStream();
      });
    },

    async head(key: string): Promise<ObjectInfo | undefined> {
      const segs = validateKey(key);
      const r = await rsync(`head ${key}`, ['--list-only', '--no-h', '--', remote.operand(segs.join('/'))], isRemoteMissing);
      // A regular file lists as itself; a directory as itself or its contents (never a match).
      const entry = r.code === 0 ? parseListing(r.stdout).find((e) => e.type === '-' && e.name === segs[segs.length - 1]) : undefined;
      return entry ? { key, size: entry.size, modifiedAt: entry.modifiedAt } : undefined;
    },

    async list(prefix: string): Promise<ObjectInfo[]> {
      const base = prefixDir(validatePrefix(prefix));
      const r = await rsync(`list ${JSON.stringify(prefix)}`, ['--list-only', '--no-h', '-r', '--', remote.operand(base)], isRemoteMissing);
      if (r.code !== 0) return [];
      const out: ObjectInfo[] = [];
      for (const e of parseListing(r.stdout)) {
        const key = base + e.name;
        if (e.type === '-' && !isHiddenPath(e.name) && key.startsWith(prefix)) out.push({ key, size: e.size, modifiedAt: e.modifiedAt });
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async delete(keys: string[]): Promise<void> {
      const rels = keys.map((k) => validateKey(k).join('/'));
      for (let i = 0; i < rels.length; i += DELETE_BATCH) {
        await staged((dir) => deleteBatch(dir, rels.slice(i, i + DELETE_BATCH)));
      }
    },
  };

  /**
   * Delete with rsync itself (the only verb an rrsync key allows): transfer an empty tree that
   * mirrors the keys' parent directories with `--delete`, where the filter rules make exactly the
   * keys eligible for deletion and protect everything else:
   *   + /a/  + /a/b/        walk into the parent directories (present, empty, in the source)
   *   - /a/b/k/  + /a/b/k   the key, only if it is not a directory (never a recursive delete)
   *   - *                   nothing else is touched (other objects, rsync temp files)
   * `--existing` keeps rsync from creating directories that are not on the target.
   */
  async function deleteBatch(dir: string, rels: string[]): Promise<void> {
    const tree = path.join(dir, 'tree');
    await fsp.mkdir(tree);
    const parents = new Set<string>();
    for (const rel of rels) {
      const segs = rel.split('/');
      for (let n = 1; n < segs.length; n++) parents.add(segs.slice(0, n).join('/'));
    }
    const rules: string[] = [];
    for (const p of [...parents].sort()) {
      await fsp.mkdir(path.join(tree, p), { recursive: true });
      rules.push(`+ /${p}/`);
    }
    for (const rel of rels) rules.push(`- /${rel}/`, `+ /${rel}`);
    rules.push('- *');
    const rulesFile = path.join(dir, 'rules');
    await fsp.writeFile(rulesFile, `${rules.join('\n')}\n`);
    const missingRoot = (r: RsyncResult) => isRemoteMissing(r) || /mkdir .* failed: No such file or directory/.test(r.stderr);
    await rsync('delete', ['-r', '--delete', '--existing', `--filter=. ${rulesFile}`, '--', `${tree}/`, remote.operand('')], missingRoot);
  }
}
