/**
 * Manifests and the object layout of a target (format 2, `tapstack-backup/2`):
 *   chunks/<id>.age                 one encrypted chunk, stored once, shared by backups; <id> is
 *                                   HMAC-SHA256(dedup key, plaintext): reveals nothing about it
 *   keys/dedup-<key id>.age         the dedup key, encrypted to the recipients
 *   backups/<id>/manifest.sig       Ed25519 signature of the exact bytes of manifest.json
 *   backups/<id>/manifest.json      written LAST: a backup exists once this exists. Public part:
 *                                   id, times, kind, sizes, recipients, the chunk objects it uses
 *                                   (name, ciphertext size and SHA-256: for prune and the key-less
 *                                   read-back), and `sealed`: the whole manifest (files, names,
 *                                   modes, plaintext hashes, versions, ledger head) age-encrypted,
 *                                   base64
 *   backups/<id>/verify-<time>.json verification and drill results, one per run
 * plus `wal/...`, owned by backup/wal (continuous mode).
 * Format 1 (`tapstack-backup/1`: plaintext manifest, `chunks/<plaintext sha256>.age`, unsigned) is
 * still read. Manifests are validated when read, so a damaged one is reported by name.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Manifest, ManifestFile } from '../contracts.js';

export const MANIFEST_FORMAT_V1 = 'tapstack-backup/1' as const;
export const MANIFEST_FORMAT = 'tapstack-backup/2' as const;
export type ManifestFormat = typeof MANIFEST_FORMAT_V1 | typeof MANIFEST_FORMAT;
/** Fixed-size chunks: SQLite pages stay at fixed offsets, so unchanged pages dedupe. */
export const CHUNK_SIZE = 4 * 1024 * 1024;

/** A chunk as a manifest records it: plaintext hash/size, plus what was stored (ciphertext). */
export interface ManifestChunk {
  sha256: string;
  /** Format 2: the keyed id it is stored under (`chunks/<id>.age`); format 1 stores it under sha256. */
  id?: string;
  size: number;
  /** The encrypted object as uploaded or last verified: lets a check without the key detect damage. */
  stored: { size: number; sha256: string };
}

export interface TapstackManifestFile extends ManifestFile {
  chunks: ManifestChunk[];
  /** Permission bits to restore (0600 when absent). */
  mode?: number;
}

export interface TapstackManifest extends Omit<Manifest, 'format'> {
  format: ManifestFormat;
  files: TapstackManifestFile[];
  /** Format 2: which dedup key named the chunks (dedupKeyIdOf), and the keyed id of the content. */
  dedupKeyId?: string;
  contentId?: string;
  target: string;
  chunkSize: number;
  /** The backup this one was compared with (previous on the same target), if any. */
  previous?: string;
  sqlite: { method: string; durationMs: number };
  /** Counts from redis-check-rdb at backup time; absent when Redis was skipped. */
  redis?: { keys: number; expires: number; savedAt: number };
  notes: string[];
}

export const manifestKey = (id: string) => `backups/${id}/manifest.json`;
export const chunkKey = (name: string) => `chunks/${name}.age`;
export const signatureKey = (id: string) => `backups/${id}/manifest.sig`;
/** The object of a chunk: its keyed id (format 2) or its plaintext SHA-256 (format 1). */
export const chunkObjectKey = (c: { sha256: string; id?: string }) => chunkKey(c.id ?? c.sha256);
export const verifyKey = (id: string, at: number) => `backups/${id}/verify-${compactTime(at)}.json`;

/** 20261122T101500Z */
export function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Sortable, unique: `20261122T101500Z-full-3fa9c1`. */
export function newBackupId(kind: 'full' | 'incremental', at: number): string {
  return `${compactTime(at)}-${kind}-${randomBytes(3).toString('hex')}`;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const chunkSchema = z.object({ sha256: hex64, id: hex64.optional(), size: z.number().int().nonnegative(), stored: z.object({ size: z.number().int().nonnegative(), sha256: hex64 }) });
const fileSchema = z.object({ name: z.string().min(1), size: z.number().int().nonnegative(), sha256: hex64, mode: z.number().int().min(0).max(0o777).optional(), chunks: z.array(chunkSchema) });

export const manifestSchema = z.looseObject({
  format: z.enum([MANIFEST_FORMAT_V1, MANIFEST_FORMAT]),
  dedupKeyId: z.string().optional(),
  contentId: hex64.optional(),
  id: z.string().regex(/^[0-9TZ]+-(full|incremental)-[0-9a-f]+$/),
  kind: z.enum(['full', 'incremental']),
  createdAt: z.string(),
  snapshotAt: z.number(),
  installId: z.string(),
  versions: z.looseObject({ tapstack: z.string(), node: z.string(), sqlite: z.string(), redis: z.string().optional() }),
  schemaVersion: z.number().int(),
  ledger: z.object({ headSeq: z.number().int(), headHash: z.string(), rows: z.number().int() }),
  encryption: z.object({ recipients: z.array(z.string()), passphrase: z.boolean() }),
  files: z.array(fileSchema),
  uploadedChunks: z.number().int(),
  uploadedBytes: z.number(),
  target: z.string(),
  chunkSize: z.number().int().positive(),
  previous: z.string().optional(),
  sqlite: z.looseObject({ method: z.string(), durationMs: z.number() }),
  redis: z.looseObject({ keys: z.number().int(), expires: z.number().int(), savedAt: z.number() }).optional(),
  notes: z.array(z.string()),
});

/** Parse and validate a manifest's bytes (format 1, or the sealed part of format 2); throws with `what` named. */
export function parseManifest(text: string, what: string): TapstackManifest {
  const r = manifestSchema.safeParse(parseJson(text, what));
  if (!r.success) throw new Error(`${what} is not a Tapstack manifest: ${r.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data as unknown as TapstackManifest;
}

/** The public part of a format-2 manifest: what list, prune and the key-less read-back need. */
export interface PublicManifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  kind: 'full' | 'incremental';
  createdAt: string;
  snapshotAt: number;
  target: string;
  previous?: string;
  /** Plaintext bytes of all files, and what this backup uploaded. */
  size: number;
  uploadedChunks: number;
  uploadedBytes: number;
  encryption: { recipients: string[]; passphrase: boolean };
  dedupKeyId: string;
  /** HMAC of the content (names, sizes, chunk ids): "unchanged" without revealing anything. */
  contentId: string;
  /** The chunk objects it uses: keyed id, ciphertext size and ciphertext SHA-256. */
  objects: { id: string; size: number; sha256: string }[];
  /** The signing key that signed it (informational: the signature is checked against a trusted key). */
  signer: string;
  /** The full TapstackManifest, age-encrypted to the recipients, base64. */
  sealed: string;
}

const publicSchema = z.looseObject({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string().regex(/^[0-9TZ]+-(full|incremental)-[0-9a-f]+$/),
  kind: z.enum(['full', 'incremental']),
  createdAt: z.string(),
  snapshotAt: z.number(),
  target: z.string(),
  previous: z.string().optional(),
  size: z.number().int().nonnegative(),
  uploadedChunks: z.number().int(),
  uploadedBytes: z.number(),
  encryption: z.object({ recipients: z.array(z.string()), passphrase: z.boolean() }),
  dedupKeyId: z.string(),
  contentId: hex64,
  objects: z.array(z.object({ id: hex64, size: z.number().int().nonnegative(), sha256: hex64 })),
  signer: z.string(),
  sealed: z.string().regex(/^[A-Za-z0-9+/=]+$/),
});

/** Either format's manifest.json: format 1 parsed whole, format 2 its public part. */
export function parseStoredManifest(text: string, what: string): { format: typeof MANIFEST_FORMAT_V1; manifest: TapstackManifest } | { format: typeof MANIFEST_FORMAT; manifest: PublicManifest } {
  const doc = parseJson(text, what);
  if ((doc as { format?: unknown })?.format !== MANIFEST_FORMAT) return { format: MANIFEST_FORMAT_V1, manifest: parseManifest(text, what) };
  const r = publicSchema.safeParse(doc);
  if (!r.success) throw new Error(`${what} is not a Tapstack manifest: ${r.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { format: MANIFEST_FORMAT, manifest: r.data as unknown as PublicManifest };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} is not valid JSON (damaged or truncated)`);
  }
}

/** Total plaintext bytes of a backup. */
export const manifestSize = (m: Pick<Manifest, 'files'>) => m.files.reduce((n, f) => n + f.size, 0);

/** Same content: same files with the same hashes (times and ids aside). */
export function sameContent(a: Pick<Manifest, 'files'>, b: Pick<Manifest, 'files'>): boolean {
  if (a.files.length !== b.files.length) return false;
  const key = (f: ManifestFile) => `${f.name}\u0000${f.size}\u0000${f.sha256}`;
  const bs = new Set(b.files.map(key));
  return a.files.every((f) => bs.has(key(f)));
}

/** Result of one verification, kept beside the manifest. */
export interface VerifyRecord {
  backupId: string;
  target: string;
  at: number;
  /** ciphertext: read back and hashed; decrypt: also decrypted and file hashes checked; drill: also restored and checked. */
  level: 'ciphertext' | 'decrypt' | 'drill';
  ok: boolean;
  durationMs: number;
  problems: string[];
  checks: Record<string, unknown>;
}
