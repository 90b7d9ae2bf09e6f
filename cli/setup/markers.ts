/**
 * The install marker `.tapstack-volume.json` ({installId, createdAt, version}), written at first
 * boot in the data directory and in the TLS directory (its own volume under compose). It tells a
 * fresh install (empty, no marker anywhere) from a forgotten or wrong volume.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { writeFileAtomic } from '../../services/shared/atomic-file.js';

export const MARKER_NAME = '.tapstack-volume.json';
/** The lock file of `tapstack setup` (services/shared/file-lock.ts), in the data directory. */
export const SETUP_LOCK_NAME = '.tapstack-setup.lock';

export interface VolumeMarker {
  installId: string;
  createdAt: string;
  version: string;
}

export type MarkerRead = { kind: 'absent' } | { kind: 'ok'; marker: VolumeMarker } | { kind: 'corrupt'; why: string };

export function readMarker(dir: string): MarkerRead {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, MARKER_NAME), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    return { kind: 'corrupt', why: `cannot read it (${code ?? 'error'})` };
  }
  try {
    const m = JSON.parse(text) as Partial<VolumeMarker>;
    if (typeof m.installId !== 'string' || !m.installId || typeof m.createdAt !== 'string' || typeof m.version !== 'string') {
      return { kind: 'corrupt', why: 'it lacks installId/createdAt/version' };
    }
    return { kind: 'ok', marker: { installId: m.installId, createdAt: m.createdAt, version: m.version } };
  } catch {
    return { kind: 'corrupt', why: 'it is not JSON' };
  }
}

export function newMarker(version: string, installId: string = randomUUID(), now: Date = new Date()): VolumeMarker {
  return { installId, createdAt: now.toISOString(), version };
}

/** Crash-safe; world-readable (it holds nothing secret and nginx/backup tools may look at it). */
export function writeMarker(dir: string, marker: VolumeMarker): void {
  writeFileAtomic(path.join(dir, MARKER_NAME), `${JSON.stringify(marker, null, 2)}\n`, 0o644);
}
