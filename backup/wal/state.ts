/**
 * The shipper's local memory across restarts: which generation it ships to, the last segment the
 * target holds, and the WAL position right after it. Written crash-safely (temp file, fsync,
 * rename, fsync of the directory) after every successful upload. Losing it is harmless: the next
 * start begins a new generation.
 */
import fs from 'node:fs';
import { writeFileAtomic } from '../../services/shared/atomic-file.js';
import type { WalPositionJson } from './wal-file.js';

export interface ShipperState {
  format: 'tapstack-wal-shipper-state/1';
  dbFile: string;
  target: string;
  generation: string;
  /** Last segment index the target holds (0: only the base). */
  index: number;
  position: WalPositionJson;
  committedUntil: number;
  updatedAt: number;
}

export function defaultStateFile(dbFile: string, targetName: string): string {
  return `${dbFile}-walship-${targetName.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`;
}

export function readState(file: string): ShipperState | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const s = JSON.parse(raw) as ShipperState;
    return s.format === 'tapstack-wal-shipper-state/1' ? s : undefined;
  } catch {
    return undefined;
  }
}

export function writeState(file: string, state: ShipperState): void {
  writeFileAtomic(file, JSON.stringify(state), 0o600);
}
