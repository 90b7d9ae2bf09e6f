/**
 * The small files a restore needs besides the database and Redis: the backup config, the secrets
 * directory (the Redis password; backups are encrypted, so secrets belong in them), the TLS
 * directory (key, certificate, markers) and the data volume's install marker (without it
 * `tapstack setup` refuses a restored, non-empty data directory as "unmarked").
 *
 * Each has a logical name in the manifest and a place it is restored to; `restorePath` is the one
 * mapping between them, shared by snapshot and restore.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../services/shared/config.js';

export const DB_NAME = 'tapstack.db';
export const RDB_NAME = 'redis/dump.rdb';
export const MARKER_FILE = '.tapstack-volume.json';

export interface SourceFile {
  /** Logical name in the manifest (`/`-separated). */
  name: string;
  /** Where it is now. */
  path: string;
}

/** Where a manifest file goes back to on this appliance; undefined = unknown name (skipped). */
export function restorePath(name: string, config: Config, backupConfigFile: string): string | undefined {
  const under = (root: string, rel: string) => {
    const p = path.resolve(root, rel);
    return p.startsWith(root + path.sep) ? p : undefined; // never outside its root
  };
  if (name === DB_NAME) return config.dbFile;
  if (name === RDB_NAME) return path.join(config.dataDir, 'redis', 'dump.rdb');
  if (name === `data/${MARKER_FILE}`) return path.join(config.dataDir, MARKER_FILE);
  if (name === 'config/backup.json') return backupConfigFile;
  if (name.startsWith('secrets/')) return under(path.join(config.dataDir, 'secrets'), name.slice('secrets/'.length));
  if (name.startsWith('tls/')) return under(config.appliance.tlsDir, name.slice('tls/'.length));
  return undefined;
}

/** Every regular file under `dir`, as `/`-separated paths relative to it (sorted). */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && !e.name.endsWith('.tmp')) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** The config, secrets, TLS and marker files that exist right now. */
export function configFiles(config: Config, backupConfigFile: string): SourceFile[] {
  const files: SourceFile[] = [];
  const marker = path.join(config.dataDir, MARKER_FILE);
  if (fs.existsSync(marker)) files.push({ name: `data/${MARKER_FILE}`, path: marker });
  if (backupConfigFile && fs.existsSync(backupConfigFile)) files.push({ name: 'config/backup.json', path: backupConfigFile });
  const secrets = path.join(config.dataDir, 'secrets');
  for (const rel of walkFiles(secrets)) files.push({ name: `secrets/${rel}`, path: path.join(secrets, rel) });
  for (const rel of walkFiles(config.appliance.tlsDir)) files.push({ name: `tls/${rel}`, path: path.join(config.appliance.tlsDir, rel) });
  return files;
}
