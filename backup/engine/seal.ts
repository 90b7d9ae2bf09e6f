/**
 * Writing a format-2 manifest: the whole manifest age-encrypted into `sealed`, a public part with
 * only what list/prune/read-back need, an Ed25519 signature of the exact public bytes
 * (`manifest.sig`, uploaded first), then `manifest.json` LAST. Also the dedup key's copy on the
 * target, and the keyed id of a backup's content.
 */
import { createHmac } from 'node:crypto';
import type { EncryptionSpec, Target } from '../contracts.js';
import { encryptBuffer, signBytes } from '../crypto/index.js';
import { MANIFEST_FORMAT, manifestKey, manifestSize, signatureKey, type PublicManifest, type TapstackManifest } from '../snapshot/manifest.js';
import { dedupKeyObject, type InstallKeys } from './install-keys.js';
import { putVerified } from './store.js';

/** HMAC of names, sizes, modes and chunk ids: equal content ⇔ equal id, and it says nothing else. */
export function contentIdOf(dedupKey: Buffer, files: readonly { name: string; size: number; mode?: number; chunks: readonly { id?: string; sha256: string }[] }[]): string {
  const canon = [...files].sort((a, b) => a.name.localeCompare(b.name)).map((f) => [f.name, f.size, f.mode ?? 0o600, f.chunks.map((c) => c.id ?? c.sha256)]);
  return createHmac('sha256', dedupKey).update(JSON.stringify(canon)).digest('hex');
}

/** Seal, sign and store `manifest` (which must be format 2 with keyed chunk ids). Returns the public part. */
export async function writeSignedManifest(target: Target, manifest: TapstackManifest, spec: EncryptionSpec, keys: InstallKeys): Promise<PublicManifest> {
  const sealed = await encryptBuffer(spec, Buffer.from(JSON.stringify(manifest)));
  const objects = new Map<string, { id: string; size: number; sha256: string }>();
  for (const f of manifest.files) {
    for (const c of f.chunks) {
      if (!c.id) throw new Error(`internal: chunk ${f.name}@${objects.size} has no keyed id`);
      objects.set(c.id, { id: c.id, size: c.stored.size, sha256: c.stored.sha256 });
    }
  }
  const pub: PublicManifest = {
    format: MANIFEST_FORMAT,
    id: manifest.id,
    kind: manifest.kind,
    createdAt: manifest.createdAt,
    snapshotAt: manifest.snapshotAt,
    target: manifest.target,
    ...(manifest.previous ? { previous: manifest.previous } : {}),
    size: manifestSize(manifest),
    uploadedChunks: manifest.uploadedChunks,
    uploadedBytes: manifest.uploadedBytes,
    encryption: manifest.encryption,
    dedupKeyId: keys.dedupKeyId,
    contentId: manifest.contentId ?? contentIdOf(keys.dedupKey, manifest.files),
    objects: [...objects.values()],
    signer: keys.publicKey,
    sealed: sealed.toString('base64'),
  };
  const bytes = Buffer.from(`${JSON.stringify(pub, null, 2)}\n`);
  await putVerified(target, signatureKey(manifest.id), signBytes(keys.signingKey, bytes));
  await putVerified(target, manifestKey(manifest.id), bytes);
  return pub;
}

/** Store the dedup key on the target, encrypted to the recipients, unless it is there and `rewrite` is false. */
export async function storeDedupKey(target: Target, keys: InstallKeys, spec: EncryptionSpec, rewrite: boolean): Promise<boolean> {
  const key = dedupKeyObject(keys.dedupKeyId);
  if (!rewrite && (await target.head(key))) return false;
  await putVerified(target, key, await encryptBuffer(spec, Buffer.from(`${keys.dedupKey.toString('hex')}\n`)));
  return true;
}
