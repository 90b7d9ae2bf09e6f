/**
 * Manifests and the object layout of a target:
 *   chunks/<plaintext sha256>.age            one encrypted chunk, stored once, shared by backups
 *   backups/<id>/manifest.json               written LAST: a backup exists once this exists
 *   backups/<id>/verify-<time>.json          verification and drill results, one per run
 * plus `wal/...`, owned by backup/wal (continuous mode).
 * Manifests are plaintext JSON (contracts.ts explains why) and are validated when read, so a
 * damaged manifest is reported by name rather than crashing a listing.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Manifest, ManifestFile } from '../contracts.js';

export const MANIFEST_FORMAT = 'tapstack-backup/1' as const;
/** Fixed-size chunks: SQLite pages stay at fixed offsets, so unchanged pages dedupe. */
export const CHUNK_SIZE = 4 * 1024 * 1024;

/** A chunk as a manifest records it: plaintext hash/size, plus what was stored (ciphertext). */
export interface ManifestChunk {
  sha256: string;
  size: number;
  /** The encrypted object as uploaded or last verified: lets a check without the key detect damage. */
  stored: { size: number; sha256: string };
}

export interface TapstackManifestFile extends ManifestFile {
  chunks: ManifestChunk[];
  /** Permission bits to restore (0600 when absent). */
  mode?: number;
}

export interface TapstackManifest extends Manifest {
  files: TapstackManifestFile[];
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
export const chunkKey = (sha256: string) => `chunks/${sha256}.age`;
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
const chunkSchema = z.object({ sha256: hex64, size: z.number().int().nonnegative(), stored: z.object({ size: z.number().int().nonnegative(), sha256: hex64 }) });
const fileSchema = z.object({ name: z.string().min(1), size: z.number().int().nonnegative(), sha256: hex64, mode: z.number().int().min(0).max(0o777).optional(), chunks: z.array(chunkSchema) });

export const manifestSchema = z.looseObject({
  format: z.literal(MANIFEST_FORMAT),
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

/** Parse and validate a manifest's bytes; throws with `what` named. */
export function parseManifest(text: string, what: string): TapstackManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${what} is not valid JSON (damaged or truncated)`);
  }
  const r = manifestSchema.safeParse(doc);
  if (!r.success) throw new Error(`${what} is not a Tapstack manifest: ${r.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data as unknown as TapstackManifest;
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
