/**
 * `backup prune`: apply each target's retention, then delete the chunks no remaining backup uses
 * (garbage of interrupted runs included). A backup is removed manifest first, so it disappears from
 * listings at once and a crash mid-prune leaves only unreferenced objects for the next prune.
 * Never deletes the newest backup nor the newest verified one; skips chunk collection on a target
 * with an unreadable manifest (its chunks cannot be known). `wal/` objects belong to backup/wal.
 */
import path from 'node:path';
import type { Config } from '../../services/shared/config.js';
import type { Logger } from '../../services/shared/logger.js';
import type { Target } from '../contracts.js';
import { isVerified, loadCatalog } from './catalog.js';
import { signingTrust } from './encryption-spec.js';
import { describeError } from './errors.js';
import { acquireBackupLock, scratchDir } from './lock.js';
import { applyRetention } from './retention.js';
import type { TargetSettings } from './settings.js';
import { closeTarget, openTarget } from './targets.js';

export interface PruneTargetResult {
  target: string;
  status: 'ok' | 'error';
  dryRun: boolean;
  keep: { id: string; reasons: string[] }[];
  remove: { id: string; size: number }[];
  unreferencedChunks: number;
  unreferencedBytes: number;
  deletedObjects: number;
  notes: string[];
  error?: { code: string; message: string };
}

export async function pruneTargets(opts: { config: Config; log: Logger; targets: TargetSettings[]; dryRun: boolean; lockWaitMs?: number }): Promise<{ ok: boolean; targets: PruneTargetResult[] }> {
  const lock = await acquireBackupLock(opts.config.dataDir, { waitMs: opts.lockWaitMs ?? 0 });
  try {
    const results = await Promise.all(opts.targets.map((t) => pruneTarget(opts, t)));
    return { ok: results.every((r) => r.status === 'ok'), targets: results };
  } finally {
    lock.release();
  }
}

async function pruneTarget(opts: { config: Config; log: Logger; dryRun: boolean }, t: TargetSettings): Promise<PruneTargetResult> {
  const log = opts.log.child({ module: 'backup-prune', target: t.name });
  const result: PruneTargetResult = { target: t.name, status: 'ok', dryRun: opts.dryRun, keep: [], remove: [], unreferencedChunks: 0, unreferencedBytes: 0, deletedObjects: 0, notes: [] };
  let target: Target | undefined;
  try {
    target = openTarget(t, { log, tmpDir: path.join(scratchDir(opts.config), 'tmp') });
    // With the installation's key known, a manifest it did not sign takes no part in retention (a
    // planted "newer" backup must not push out real ones); it is left alone and reported.
    const catalog = await loadCatalog(target, { trust: signingTrust(opts.config) });
    const planted = catalog.entries.filter((e) => e.signature === 'bad');
    if (planted.length) result.notes.push(`backup(s) ${planted.map((e) => e.id).join(', ')}: the signature does not verify against this installation's signing key; left alone (inspect and delete them by hand)`);
    const entries = catalog.entries.filter((e) => e.signature !== 'bad');
    const decision = applyRetention(
      entries.map((e) => ({ id: e.id, at: e.summary.snapshotAt, verified: isVerified(e) })),
      t.retention,
    );
    result.keep = decision.keep;
    const removing = new Set(decision.remove);
    result.remove = entries.filter((e) => removing.has(e.id)).map((e) => ({ id: e.id, size: e.summary.size }));

    const referenced = new Set<string>();
    for (const e of entries) if (!removing.has(e.id)) for (const key of e.summary.objects.keys()) referenced.add(key);
    const collectChunks = catalog.damaged.length === 0;
    if (!collectChunks) result.notes.push(`unreadable manifest(s) ${catalog.damaged.map((d) => d.key).join(', ')}: left alone, and no chunk is deleted until they are fixed or removed`);
    const garbage = collectChunks ? (await target.list('chunks/')).filter((o) => /^chunks\/[0-9a-f]{64}\.age$/.test(o.key) && !referenced.has(o.key)) : [];
    result.unreferencedChunks = garbage.length;
    result.unreferencedBytes = garbage.reduce((n, o) => n + o.size, 0);

    // Verify records whose backup is gone (no manifest) are garbage too.
    const live = new Set(catalog.entries.filter((e) => !removing.has(e.id)).map((e) => e.id));
    const damagedIds = new Set(catalog.damaged.map((d) => d.id));
    const backupObjects = catalog.backupKeys.filter((k) => {
      const id = /^backups\/([^/]+)\//.exec(k)?.[1];
      return id !== undefined && !live.has(id) && !damagedIds.has(id);
    });
    if (opts.dryRun) return result;

    // Manifests first: each removed backup vanishes from listings before anything it uses goes.
    const manifests = backupObjects.filter((k) => k.endsWith('/manifest.json'));
    if (manifests.length) await target.delete(manifests);
    const rest = [...backupObjects.filter((k) => !k.endsWith('/manifest.json')), ...garbage.map((o) => o.key)];
    for (let i = 0; i < rest.length; i += 500) await target.delete(rest.slice(i, i + 500));
    result.deletedObjects = manifests.length + rest.length;
    log.info({ removed: result.remove.map((r) => r.id), chunks: garbage.length, objects: result.deletedObjects }, 'pruned');
    return result;
  } catch (err) {
    const e = err as { code?: unknown };
    result.status = 'error';
    result.error = { code: typeof e.code === 'string' ? e.code : 'failed', message: describeError(err) };
    log.error({ err: result.error }, 'prune failed');
    return result;
  } finally {
    await closeTarget(target);
  }
}
