/**
 * Object keys, checked the same way by every target before anything touches storage.
 *
 * A key is a relative `/`-separated path: not empty, not absolute, no empty, `.` or `..` segment.
 * Beyond the contract's minimum, two more things are reserved so that every target can hide its
 * in-flight files behind one rule and pass keys to rsync without quoting games:
 *   - a segment may not start with `.`: dot names are temp files (local `.name.tmp-*`, rsync's own
 *     `.name.XXXXXX`) and are never listed;
 *   - no control characters, no `\`, none of rsync's wildcard characters `* ? [`, and no
 *     whitespace at either end of a segment (rsync filter rules would trim or glob them).
 */
import { TargetError } from './errors.js';

const MAX_KEY_LENGTH = 1024;
const FORBIDDEN = /[\u0000-\u001f\u007f\\*?[]/;

function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'an empty segment';
  if (segment === '.' || segment === '..') return `a "${segment}" segment`;
  if (segment.startsWith('.')) return 'a segment starting with "." (reserved for temp files)';
  if (FORBIDDEN.test(segment)) return 'a control character, "\\", "*", "?" or "["';
  if (segment.trim() !== segment) return 'whitespace at the start or end of a segment';
  return undefined;
}

/** Throws `invalid-key` unless `key` is a safe object key; returns its segments. */
export function validateKey(key: unknown): string[] {
  if (typeof key !== 'string' || key === '') throw new TargetError('invalid-key', 'invalid key: empty');
  if (key.length > MAX_KEY_LENGTH) throw new TargetError('invalid-key', `invalid key: longer than ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw new TargetError('invalid-key', `invalid key ${JSON.stringify(key)}: absolute`);
  const segments = key.split('/');
  for (const s of segments) {
    const problem = segmentProblem(s);
    if (problem) throw new TargetError('invalid-key', `invalid key ${JSON.stringify(key)}: ${problem}`);
  }
  return segments;
}

/**
 * Throws `invalid-key` unless `prefix` is '' or a key, optionally followed by one `/`
 * (`backups/`, `chunks/ab`). Returns the prefix unchanged.
 */
export function validatePrefix(prefix: unknown): string {
  if (prefix === '') return '';
  if (typeof prefix !== 'string') throw new TargetError('invalid-key', 'invalid prefix: not a string');
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  try {
    validateKey(body);
  } catch {
    throw new TargetError('invalid-key', `invalid prefix ${JSON.stringify(prefix)}: must be '' or a relative key, optionally ending in "/"`);
  }
  return prefix;
}

/** The directory part of a prefix, with a trailing `/` ('' for the root): where a listing starts. */
export function prefixDir(prefix: string): string {
  const i = prefix.lastIndexOf('/');
  return i < 0 ? '' : prefix.slice(0, i + 1);
}

/** Whether a listed relative path is one of our (or rsync's) in-flight temp files. */
export function isHiddenPath(relPath: string): boolean {
  return relPath.split('/').some((s) => s.startsWith('.'));
}
