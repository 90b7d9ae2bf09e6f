/**
 * What a target holds: its complete backups (those with a manifest; nothing else is a backup), the
 * newest verification result of each, and every ciphertext hash recorded for each chunk object.
 * Read from the target itself, so it works on a fresh machine after a disaster, and without a key:
 * a format-2 manifest's public part is enough to list, prune and read back. Its sealed part (the
 * files and their plaintext hashes) is opened by `openEntry`, only after its signature verified.
 */
import type { DecryptionSpec, Target } from '../contracts.js';
import { decryptBuffer, isAgeError, normalizePublicKey, verifyBytes } from '../crypto/index.js';
import { chunkObjectKey, MANIFEST_FORMAT, manifestKey, manifestSize, parseManifest, parseStoredManifest, signatureKey, chunkKey, type ManifestFormat, type PublicManifest, type TapstackManifest, type VerifyRecord } from '../snapshot/manifest.js';
import { BackupError, describeError } from './errors.js';
import type { SigningTrust } from './encryption-spec.js';
import { readObject } from './store.js';

/**
 * What every format says without a key: the public part of a format-2 manifest (a format-1 one
 * fills the same fields), with its chunk objects by object key.
 */
export type BackupSummary = Omit<PublicManifest, 'format' | 'dedupKeyId' | 'contentId' | 'objects' | 'signer' | 'sealed'> & {
  format: ManifestFormat;
  /** Chunk objects it uses (object key → ciphertext size and SHA-256 as stored). */
  objects: Map<string, { size: number; sha256: string }>;
  dedupKeyId?: string;
  contentId?: string;
};

export interface CatalogEntry {
  id: string;
  summary: BackupSummary;
  /** Format 1: the manifest itself. Format 2: set once `openEntry` decrypted it. */
  manifest?: TapstackManifest;
  /** Format 2: the exact manifest.json bytes (what is signed), its public part and the signature. */
  signed?: { bytes: Buffer; public: PublicManifest; signature?: Buffer };
  /** Against the trusted key given to loadCatalog: unchecked = no trusted key; unsigned = format 1. */
  signature: 'ok' | 'bad' | 'unchecked' | 'unsigned';
  /** Newest verification of this backup, if any. */
  verify?: VerifyRecord;
}

export interface Catalog {
  target: Target;
  /** Complete backups, oldest first (by snapshot time). */
  entries: CatalogEntry[];
  /** Manifests that exist but cannot be read: reported, never used. */
  damaged: { id: string; key: string; error: string }[];
  /** Every object key under backups/ (verify records and signatures included). */
  backupKeys: string[];
}

export type KnownChunks = Map<string, { sizes: Set<number>; hashes: Set<string> }>;

export async function loadCatalog(target: Target, opts: { trust?: SigningTrust } = {}): Promise<Catalog> {
  const objects = await target.list('backups/');
  const byId = new Map<string, { manifest?: string; sig?: string; verifies: string[] }>();
  for (const o of objects) {
    const m = /^backups\/([^/]+)\/(manifest\.json|manifest\.sig|verify-[0-9TZ]+\.json)$/.exec(o.key);
    if (!m) continue;
    const id = m[1] as string;
    const slot = byId.get(id) ?? { verifies: [] };
    if (m[2] === 'manifest.json') slot.manifest = o.key;
    else if (m[2] === 'manifest.sig') slot.sig = o.key;
    else slot.verifies.push(o.key);
    byId.set(id, slot);
  }
  const entries: CatalogEntry[] = [];
  const damaged: Catalog['damaged'] = [];
  await Promise.all(
    [...byId].map(async ([id, slot]) => {
      if (!slot.manifest) return; // verify records of a pruned backup, or a foreign object
      let entry: CatalogEntry;
      try {
        const bytes = await readObject(target, slot.manifest);
        const what = `${target.name}: ${slot.manifest}`;
        const stored = parseStoredManifest(bytes.toString('utf8'), what);
        if (stored.manifest.id !== id) throw new Error(`${what} names backup ${stored.manifest.id}`);
        if (stored.format === MANIFEST_FORMAT) {
          const signature = slot.sig ? await readObject(target, slot.sig) : undefined;
          entry = { id, summary: summaryOfPublic(stored.manifest), signed: { bytes, public: stored.manifest, signature }, signature: 'unchecked' };
          if (opts.trust) entry.signature = signatureValid(entry, opts.trust) ? 'ok' : 'bad';
        } else entry = { id, summary: summaryOfV1(stored.manifest), manifest: stored.manifest, signature: 'unsigned' };
      } catch (err) {
        damaged.push({ id, key: manifestKey(id), error: describeError(err) });
        return;
      }
      const newest = slot.verifies.sort().at(-1);
      if (newest) {
        try {
          entry.verify = JSON.parse((await readObject(target, newest)).toString('utf8')) as VerifyRecord;
        } catch {
          /* an unreadable verify record just means "not verified" */
        }
      }
      entries.push(entry);
    }),
  );
  entries.sort((a, b) => a.summary.snapshotAt - b.summary.snapshotAt || a.id.localeCompare(b.id));
  return { target, entries, damaged, backupKeys: objects.map((o) => o.key) };
}

function summaryOfPublic(p: PublicManifest): BackupSummary {
  const objects = new Map(p.objects.map((o) => [chunkKey(o.id), { size: o.size, sha256: o.sha256 }]));
  const { format, id, kind, createdAt, snapshotAt, target, previous, size, uploadedChunks, uploadedBytes, encryption, dedupKeyId, contentId } = p;
  return { format, id, kind, createdAt, snapshotAt, target, ...(previous ? { previous } : {}), size, uploadedChunks, uploadedBytes, encryption, objects, dedupKeyId, contentId };
}

function summaryOfV1(m: TapstackManifest): BackupSummary {
  const objects = new Map<string, { size: number; sha256: string }>();
  for (const f of m.files) for (const c of f.chunks) objects.set(chunkObjectKey(c), c.stored);
  const { format, id, kind, createdAt, snapshotAt, target, previous, uploadedChunks, uploadedBytes, encryption } = m;
  return { format, id, kind, createdAt, snapshotAt, target, ...(previous ? { previous } : {}), size: manifestSize(m), uploadedChunks, uploadedBytes, encryption, objects };
}

function signatureValid(entry: CatalogEntry, trust: SigningTrust): boolean {
  const s = entry.signed;
  if (!s?.signature) return false;
  return trust.keys.some((k) => verifyBytes(k, s.bytes, s.signature as Buffer));
}

/**
 * Throw unless a format-2 entry carries a signature by a trusted key: 'no-signing-key' (exit 2)
 * when nothing is trusted, 'bad-signature' (exit 1) when unsigned or signed by another key.
 */
export function requireSignature(target: Target, entry: CatalogEntry, trust: SigningTrust | undefined): void {
  if (!entry.signed) return;
  if (!trust || trust.keys.length === 0) {
    throw new BackupError('no-signing-key', `${target.name}: backup ${entry.id} is signed, and no trusted signing key is known to check it: pass --signing-key ed25519:... (printed by \`tapstack setup\` and \`tapstack backup keygen\`; keep it with the identity)`, 2);
  }
  if (!entry.signed.signature) throw new BackupError('bad-signature', `${target.name}: backup ${entry.id} has no signature (${signatureKey(entry.id)} is missing): refusing it; a backup this appliance made is always signed`, 1, { backup: entry.id });
  if (!signatureValid(entry, trust)) {
    let signer = entry.signed.public.signer;
    try {
      signer = normalizePublicKey(signer);
    } catch {
      /* keep as written */
    }
    const named = trust.keys.includes(signer) ? 'the trusted key, but the manifest was modified after signing' : `${signer.slice(0, 24)}…, not a trusted key`;
    throw new BackupError('bad-signature', `${target.name}: the signature of backup ${entry.id} does not verify against the trusted signing key(s) from ${trust.source} (it claims ${named}): a planted or tampered backup; refusing it`, 1, { backup: entry.id });
  }
}

/**
 * The full manifest of an entry. Format 2: signature first (requireSignature), then the sealed part
 * is decrypted and checked against the public part. Format 1 has no signature: `unsigned: 'refuse'`
 * turns it away with 'unsigned-backup' (exit 2) — a planted format-1 manifest would otherwise
 * bypass the signature — while 'allow' (verify, or restore --allow-unsigned) reads it.
 */
export async function openEntry(target: Target, entry: CatalogEntry, o: { spec: DecryptionSpec; trust?: SigningTrust; unsigned: 'allow' | 'refuse' }): Promise<TapstackManifest> {
  if (!entry.signed) {
    if (o.unsigned === 'refuse') {
      throw new BackupError('unsigned-backup', `${target.name}: backup ${entry.id} is format 1 (${entry.summary.format}): unsigned, so nothing proves this appliance made it; to restore it anyway pass --allow-unsigned (only if you know the target was not written by anyone else)`, 2, { backup: entry.id });
    }
    return entry.manifest as TapstackManifest;
  }
  if (entry.manifest) return entry.manifest;
  requireSignature(target, entry, o.trust);
  const pub = entry.signed.public;
  let text: string;
  try {
    text = (await decryptBuffer(o.spec, Buffer.from(pub.sealed, 'base64'))).toString('utf8');
  } catch (err) {
    if (isAgeError(err, 'wrong-key')) throw new BackupError('wrong-key', `${target.name}: the manifest of ${entry.id} cannot be decrypted with the given key(s): wrong identity or passphrase (it is encrypted to another recipient)`, 2, { key: manifestKey(entry.id) });
    throw new BackupError('manifest-damaged', `${target.name}: the sealed part of ${manifestKey(entry.id)} cannot be decrypted: ${describeError(err)}`, 1, { key: manifestKey(entry.id) });
  }
  const m = parseManifest(text, `${target.name}: sealed part of ${manifestKey(entry.id)}`);
  const ids = new Set<string>();
  for (const f of m.files) for (const c of f.chunks) ids.add(chunkObjectKey(c));
  const same = m.id === pub.id && m.snapshotAt === pub.snapshotAt && m.kind === pub.kind && ids.size === entry.summary.objects.size && [...ids].every((k) => entry.summary.objects.has(k));
  if (!same) throw new BackupError('manifest-damaged', `${target.name}: the sealed part of ${manifestKey(entry.id)} does not match its public part`, 1, { key: manifestKey(entry.id) });
  entry.manifest = m;
  return m;
}

/** Ciphertext sizes and hashes every backup recorded, per chunk object (never a badly signed one's). */
export function knownChunks(entries: readonly CatalogEntry[]): KnownChunks {
  const known: KnownChunks = new Map();
  for (const e of entries) {
    if (e.signature === 'bad') continue;
    for (const [key, stored] of e.summary.objects) {
      const k = known.get(key) ?? { sizes: new Set<number>(), hashes: new Set<string>() };
      k.sizes.add(stored.size);
      k.hashes.add(stored.sha256);
      known.set(key, k);
    }
  }
  return known;
}

/** The newest complete backup, or the newest whose snapshot is not after `at`. */
export function pickBackup(entries: readonly CatalogEntry[], at?: number): CatalogEntry | undefined {
  const eligible = at === undefined ? entries : entries.filter((e) => e.summary.snapshotAt <= at);
  return eligible.at(-1);
}

/** A verification record counts as "verified" when it passed. */
export const isVerified = (e: CatalogEntry) => e.verify?.ok === true;
