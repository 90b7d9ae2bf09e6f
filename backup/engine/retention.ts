/**
 * Which backups a retention policy keeps (pure; restic's semantics). Newest first: `keepLast` keeps
 * the N newest; `hourly`/`daily`/`weekly`/`monthly` keep the newest backup of each of the N most
 * recent UTC hours/days/ISO weeks/months that have one; `keepWithin` keeps everything taken within
 * that long before the newest backup (not before "now", so a stalled schedule never ages
 * everything out). The newest backup and the newest verified backup are always kept.
 */
import { isoWeek } from '../../services/shared/repos/bets.repo.js';
import type { Retention } from './settings.js';

export interface RetentionItem {
  id: string;
  /** Snapshot time (ms). */
  at: number;
  verified: boolean;
}

export interface RetentionDecision {
  keep: { id: string; reasons: string[] }[];
  remove: string[];
}

export function applyRetention(items: readonly RetentionItem[], r: Retention): RetentionDecision {
  const sorted = [...items].sort((a, b) => b.at - a.at || b.id.localeCompare(a.id));
  const reasons = new Map<string, string[]>();
  const mark = (id: string, why: string) => reasons.set(id, [...(reasons.get(id) ?? []), why]);

  sorted.slice(0, r.keepLast).forEach((b) => mark(b.id, 'last'));
  const buckets: [keyof Retention, string, (ms: number) => string][] = [
    ['hourly', 'hourly', (ms) => new Date(ms).toISOString().slice(0, 13)],
    ['daily', 'daily', (ms) => new Date(ms).toISOString().slice(0, 10)],
    ['weekly', 'weekly', (ms) => String(isoWeek(ms))],
    ['monthly', 'monthly', (ms) => new Date(ms).toISOString().slice(0, 7)],
  ];
  for (const [field, label, bucketOf] of buckets) {
    const limit = r[field];
    const seen = new Set<string>();
    for (const b of sorted) {
      if (seen.size >= limit) break;
      const bucket = bucketOf(b.at);
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      mark(b.id, `${label} ${bucket}`);
    }
  }
  const newest = sorted[0];
  if (newest && r.keepWithinMs > 0) for (const b of sorted) if (b.at >= newest.at - r.keepWithinMs) mark(b.id, 'within');
  if (newest) mark(newest.id, 'newest');
  const newestVerified = sorted.find((b) => b.verified);
  if (newestVerified) mark(newestVerified.id, 'newest verified');

  return {
    keep: sorted.filter((b) => reasons.has(b.id)).map((b) => ({ id: b.id, reasons: reasons.get(b.id) ?? [] })),
    remove: sorted.filter((b) => !reasons.has(b.id)).map((b) => b.id),
  };
}
