/**
 * Test fixture: writes a backup in format 1 (`tapstack-backup/1`) exactly as release 0.1 did —
 * chunks under their plaintext SHA-256, a plaintext unsigned manifest — so the upgrade tests can
 * prove that such backups stay listable, verifiable and restorable. Not product code: the engine
 * only writes format 2.
 */
import { randomBytes } from 'node:crypto';
import { createTarget } from '../../backup/targets/index.js';
import type { TargetSpec } from '../../backup/contracts.js';
import { encryptChunk, putVerified } from '../../backup/engine/store.js';
import { CHUNK_SIZE, chunkKey, manifestKey, MANIFEST_FORMAT_V1, newBackupId, type TapstackManifest } from '../../backup/snapshot/manifest.js';
import { readChunk, stageSnapshot } from '../../backup/snapshot/staging.js';
import { loadConfig } from '../../services/shared/config.js';

export async function writeV1Backup(env: Record<string, string>, spec: TargetSpec, backupConfigFile: string): Promise<TapstackManifest> {
  const config = loadConfig(env);
  const recipients = [...config.backup.recipients];
  const snap = await stageSnapshot(config, { backupConfigFile, runId: `v1-${randomBytes(3).toString('hex')}`, includeRedis: false });
  const target = createTarget(spec);
  try {
    const stored = new Map<string, { size: number; sha256: string }>();
    let uploadedBytes = 0;
    for (const f of snap.files) {
      for (const c of f.chunks) {
        if (stored.has(c.sha256)) continue;
        const { ciphertext } = await encryptChunk({ recipients }, await readChunk(f.path, c.offset, c.size));
        const info = await putVerified(target, chunkKey(c.sha256), ciphertext);
        stored.set(c.sha256, info);
        uploadedBytes += info.size;
      }
    }
    const now = Date.now();
    const manifest: TapstackManifest = {
      format: MANIFEST_FORMAT_V1,
      id: newBackupId('full', now),
      kind: 'full',
      createdAt: new Date(now).toISOString(),
      snapshotAt: snap.sqlite.snapshotAt,
      installId: 'test-install',
      versions: { tapstack: '0.1.0', node: process.versions.node, sqlite: snap.sqlite.sqliteVersion },
      schemaVersion: snap.sqlite.schemaVersion,
      ledger: snap.sqlite.ledger,
      encryption: { recipients, passphrase: false },
      files: snap.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, mode: f.mode, chunks: f.chunks.map((c) => ({ sha256: c.sha256, size: c.size, stored: stored.get(c.sha256) as { size: number; sha256: string } })) })),
      uploadedChunks: stored.size,
      uploadedBytes,
      target: spec.name,
      chunkSize: CHUNK_SIZE,
      sqlite: { method: snap.sqlite.method, durationMs: snap.sqlite.durationMs },
      notes: snap.notes,
    };
    await putVerified(target, manifestKey(manifest.id), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    return manifest;
  } finally {
    snap.remove();
    await target.close?.();
  }
}
