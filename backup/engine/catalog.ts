/**
 * What a target holds: its complete backups (those with a manifest; nothing else is a backup), the
 * newest verification result of each, and every ciphertext hash recorded for each chunk. Read from
 * the target itself, so it works on a fresh machine after a disaster.
 */
import type { Target } from '../contracts.js';
import { manifestKey, parseManifest, type TapstackManifest, type VerifyRecord } from '../snapshot/manifest.js';
import { describeError } from './errors.js';
import { readObject } from './store.js';

export interface CatalogEntry {
  id: string;
  manifest: TapstackManifest;
  /** Newest verification of this backup, if any. */
  verify?: VerifyRecord;
}

export interface Catalog {
  target: Target;
  /** Complete backups, oldest first (by snapshot time). */
  entries: CatalogEntry[];
  /** Manifests that exist but cannot be read: reported, never used. */
  damaged: { id: string; key: string; error: string }[];
  /** Every object key under backups/ (verify records included). */
  backupKeys: string[];
}

export type KnownChunks = Map<string, { sizes: Set<number>; hashes: Set<string> }>;

export async function loadCatalog(target: Target): Promise<Catalog> {
  const objects = await target.list('backups/');
  const byId = new Map<string, { manifest?: string; verifies: string[] }>();
  for (const o of objects) {
    const m = /^backups\/([^/]+)\/(manifest\.json|verify-[0-9TZ]+\.json)$/.exec(o.key);
    if (!m) continue;
    const id = m[1] as string;
    const slot = byId.get(id) ?? { verifies: [] };
    if (m[2] === 'manifest.json') slot.manifest = o.key;
    else slot.verifies.push(o.key);
    byId.set(id, slot);
  }
  const entries: CatalogEntry[] = [];
  const damaged: Catalog['damaged'] = [];
  await Promise.all(
    [...byId].map(async ([id, slot]) => {
      if (!slot.manifest) return; // verify records of a pruned backup, or a foreign object
      let manifest: TapstackManifest;
      try {
        manifest = parseManifest((await readObject(target, slot.manifest)).toString('utf8'), `${target.name}: ${slot.manifest}`);
        if (manifest.id !== id) throw new Error(`${target.name}: ${slot.manifest} names backup ${manifest.id}`);
      } catch (err) {
        damaged.push({ id, key: manifestKey(id), error: describeError(err) });
        return;
      }
      const entry: CatalogEntry = { id, manifest };
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
  entries.sort((a, b) => a.manifest.snapshotAt - b.manifest.snapshotAt || a.id.localeCompare(b.id));
  return { target, entries, damaged, backupKeys: objects.map((o) => o.key) };
}

/** Ciphertext sizes and hashes every manifest recorded, per chunk. */
export function knownChunks(manifests: readonly TapstackManifest[]): KnownChunks {
  const known: KnownChunks = new Map();
  for (const m of manifests) {
    for (const f of m.files) {
      for (const c of f.chunks) {
        const k = known.get(c.sha256) ?? { sizes: new Set<number>(), hashes: new Set<string>() };
        k.sizes.add(c.stored.size);
        k.hashes.add(c.stored.sha256);
        known.set(c.sha256, k);
      }
    }
  }
  return known;
}

/** The newest complete backup, or the newest whose snapshot is not after `at`. */
export function pickBackup(entries: readonly CatalogEntry[], at?: number): CatalogEntry | undefined {
  const eligible = at === undefined ? entries : entries.filter((e) => e.manifest.snapshotAt <= at);
  return eligible.at(-1);
}

/** A verification record counts as "verified" when it passed. */
export const isVerified = (e: CatalogEntry) => e.verify?.ok === true;
