/**
 * What continuous mode has stored on a target, read from object keys and the plaintext
 * `generation.json` files (no secret needed): generations, their restorable spans, the window
 * of points a restore can reach, gaps, and the restore plan for a time.
 */
import type { ObjectInfo, Target } from '../contracts.js';
import { WalError } from './errors.js';
import { confirmedKey, GENERATION_RE, generationMetaKey, generationPrefix, generationTime, parseSegmentKey, WAL_PREFIX, type ConfirmedMeta, type GenerationMeta, type SegmentKeyInfo } from './segment.js';

export interface WalSegmentObject extends SegmentKeyInfo {
  key: string;
  size: number;
}

export interface WalGenerationInfo {
  generation: string;
  meta: GenerationMeta;
  baseAt: number;
  /** Segments 1..n without a hole, in order. */
  segments: WalSegmentObject[];
  /** The first missing index, when later segments exist beyond it (they cannot be applied), or
   *  when `confirmed.json` names more segments than are stored (lost at the end). */
  hole?: number;
  /** The missing indexes `hole..holeUntil`, and the first stored segment after them (if any). */
  holeUntil?: number;
  resumes?: { index: number; key: string; firstCommitAt: number };
  /** From `confirmed.json`: everything committed before this time is in segments 1..n. */
  confirmed?: ConfirmedMeta;
  /** The newest restorable point: the last usable segment's newest commit or the base time, or
   *  later if the shipper confirmed that nothing more was committed until then. */
  to: number;
  bytes: number;
}

export interface WalGap {
  /** Restorable up to `from` (end of `before`), and again from `to` (base of `after`). */
  from: number;
  to: number;
  before: string;
  after: string;
  reason: string;
}

export interface WalWindow {
  from: number;
  to: number;
  generations: WalGenerationInfo[];
  gaps: WalGap[];
  /** Generation folders without `generation.json` (a base upload that never finished). */
  incomplete: string[];
}

export interface RestorePlan {
  generation: WalGenerationInfo;
  requestedAt: number;
  /** Segments to download and replay, in order (transactions after `requestedAt` are skipped). */
  segments: WalSegmentObject[];
  /** Upper bound of the point that will be restored (the exact one is known after replay). */
  restoresTo: number;
  window: { from: number; to: number };
  /** Set when `allowGap` let a time inside a gap restore to the gap's start. */
  gap?: WalGap;
  /** Why the chain cannot reach `requestedAt` (a missing segment, a gap): the restore replays what
   *  it can and then fails naming this, unless the caller accepts the shortfall. */
  shortfall?: WalShortfall;
}

/**
 * A point the WAL chain cannot reach: the restore stops at `reachedAt` (exact once replayed).
 *   missing-segment  segments `missing.from..missing.to` of `generation` are not on the target
 *   corrupt-segment  segment `missing.from` failed its checks (found while replaying)
 *   in-gap           the requested time lies between two generations that do not join
 */
export interface WalShortfall {
  kind: 'missing-segment' | 'corrupt-segment' | 'in-gap';
  generation: string;
  requestedAt: number;
  /** Restorable up to here: an upper bound when planned, the last applied commit's stamp after replay. */
  reachedAt: number;
  missing?: { from: number; to: number | null };
  /** The last segment replayed before the hole, and the WAL position it ends at (after replay). */
  lastIntact?: { index: number; committedUntil: number; walEnd?: { salt1: number; salt2: number; frame: number } };
  /** Where shipped history starts again (the next stored segment, or the next generation), if it does. */
  resumesAt?: number;
  resumesWith?: string;
  /** Changes committed in [lostFrom, lostUntil) are not in the backup (lostUntil null: unknown). */
  lostFrom: number;
  lostUntil: number | null;
  reason: string;
}

/** Every generation on the target, oldest base first. */
export async function listWalGenerations(target: Target): Promise<{ generations: WalGenerationInfo[]; incomplete: string[] }> {
  const objects = await target.list(WAL_PREFIX);
  const byGen = new Map<string, ObjectInfo[]>();
  for (const o of objects) {
    const g = o.key.slice(WAL_PREFIX.length).split('/')[0] ?? '';
    if (!GENERATION_RE.test(g)) continue;
    let list = byGen.get(g);
    if (!list) byGen.set(g, (list = []));
    list.push(o);
  }
  const generations: WalGenerationInfo[] = [];
  const incomplete: string[] = [];
  for (const [g, objs] of byGen) {
    if (!objs.some((o) => o.key === generationMetaKey(g))) {
      incomplete.push(g);
      continue;
    }
    const meta = JSON.parse((await readAll(await target.get(generationMetaKey(g)))).toString('utf8')) as GenerationMeta;
    const segs = objs
      .map((o) => {
        const info = parseSegmentKey(o.key);
        return info && info.generation === g ? { ...info, key: o.key, size: o.size } : undefined;
      })
      .filter((s): s is WalSegmentObject => s !== undefined)
      .sort((a, b) => a.index - b.index);
    const usable: WalSegmentObject[] = [];
    for (const s of segs) {
      if (s.index !== usable.length + 1) break;
      usable.push(s);
    }
    const next = segs[usable.length];
    let hole = next ? usable.length + 1 : undefined;
    let holeUntil = next ? next.index - 1 : undefined;
    let to = usable[usable.length - 1]?.committedUntil ?? meta.baseAt;
    let confirmed: ConfirmedMeta | undefined;
    if (objs.some((o) => o.key === confirmedKey(g))) {
      confirmed = JSON.parse((await readAll(await target.get(confirmedKey(g)))).toString('utf8')) as ConfirmedMeta;
      if (hole === undefined && confirmed.index === usable.length && confirmed.confirmedUntil > to) to = confirmed.confirmedUntil;
      // The uploader stores segments strictly before the confirmation naming them: more confirmed
      // than stored means the last ones were lost on the target.
      if (hole === undefined && confirmed.index > usable.length) {
        hole = usable.length + 1;
        holeUntil = confirmed.index;
      }
    }
    generations.push({
      generation: g,
      meta,
      baseAt: meta.baseAt,
      segments: usable,
      ...(hole === undefined ? {} : { hole, holeUntil }),
      ...(next ? { resumes: { index: next.index, key: next.key, firstCommitAt: next.firstCommitAt } } : {}),
      ...(confirmed ? { confirmed } : {}),
      to,
      bytes: meta.base.size + segs.reduce((n, s) => n + s.size, 0),
    });
  }
  generations.sort((a, b) => a.baseAt - b.baseAt || (a.generation < b.generation ? -1 : 1));
  return { generations, incomplete: incomplete.sort() };
}

/** True when `next` starts exactly where `prev` ended (a rollover): no transaction in between. */
function contiguous(prev: WalGenerationInfo, next: WalGenerationInfo): boolean {
  const p = next.meta.previous;
  return p !== null && p.contiguous && p.generation === prev.generation && prev.hole === undefined && (prev.segments[prev.segments.length - 1]?.index ?? 0) >= p.index;
}

/** The points a restore can reach: `from` (oldest base) to `to` (newest shipped commit), minus gaps. */
export async function windowOf(target: Target): Promise<WalWindow | undefined> {
  const { generations, incomplete } = await listWalGenerations(target);
  const first = generations[0];
  const last = generations[generations.length - 1];
  if (!first || !last) return undefined;
  const gaps: WalGap[] = [];
  for (let i = 1; i < generations.length; i++) {
    const prev = generations[i - 1]!;
    const next = generations[i]!;
    if (!contiguous(prev, next)) gaps.push({ from: prev.to, to: next.baseAt, before: prev.generation, after: next.generation, reason: next.meta.reason });
  }
  return { from: first.baseAt, to: Math.max(...generations.map((g) => g.to)), generations, gaps, incomplete };
}

/**
 * Which generation and segments restore the state at `at` (ms): the newest generation whose base
 * is not after `at`. Refuses a time before the window. A time past a missing segment or inside a
 * gap is planned up to what can be reached, with `shortfall` saying why it stops there (restoreAt
 * replays that much and then fails, unless `allowGap`).
 */
export async function planRestore(target: Target, at: number, opts: { allowGap?: boolean } = {}): Promise<RestorePlan> {
  const w = await windowOf(target);
  if (!w) throw new WalError('no-backups', `${target.describe()} holds no complete WAL generation`);
  const iso = (t: number) => new Date(t).toISOString();
  const candidates = w.generations.filter((g) => g.baseAt <= at);
  const g = candidates[candidates.length - 1];
  if (!g) throw new WalError('before-window', `${iso(at)} is before the oldest restorable point ${iso(w.from)}`, { exitCode: 2 });
  let gap: WalGap | undefined;
  let shortfall: WalShortfall | undefined;
  const segments = g.segments.filter((s) => s.firstCommitAt <= at);
  const restoresTo = Math.max(g.baseAt, ...segments.map((s) => Math.min(s.committedUntil, at)));
  const last = g.segments[g.segments.length - 1];
  const lastIntact = last ? { index: last.index, committedUntil: last.committedUntil } : undefined;
  if (at > g.to) {
    const found = w.gaps.find((x) => x.before === g.generation && at < x.to);
    if (g.hole !== undefined) {
      const resumesAt = g.resumes?.firstCommitAt ?? found?.to;
      shortfall = {
        kind: 'missing-segment',
        generation: g.generation,
        requestedAt: at,
        reachedAt: g.to,
        missing: { from: g.hole, to: g.holeUntil ?? null },
        ...(lastIntact ? { lastIntact } : {}),
        ...(resumesAt !== undefined ? { resumesAt, resumesWith: g.resumes?.key ?? found?.after } : {}),
        lostFrom: g.to,
        lostUntil: g.resumes?.firstCommitAt ?? g.confirmed?.confirmedUntil ?? found?.to ?? null,
        reason: g.resumes ? `segment${g.resumes.index - g.hole > 1 ? 's' : ''} ${range(g.hole, g.resumes.index - 1)} missing on the target` : `segment${(g.holeUntil ?? g.hole) > g.hole ? 's' : ''} ${range(g.hole, g.holeUntil ?? g.hole)} (confirmed shipped) missing on the target`,
      };
    } else if (found) {
      gap = found;
      shortfall = {
        kind: 'in-gap',
        generation: g.generation,
        requestedAt: at,
        reachedAt: found.from,
        ...(lastIntact ? { lastIntact } : {}),
        resumesAt: found.to,
        resumesWith: found.after,
        lostFrom: found.from,
        lostUntil: found.to,
        reason: `changes were not shipped (${found.reason})`,
      };
      if (!opts.allowGap) {
        throw new WalError('in-gap', `${iso(at)} falls in a gap of the WAL backups (${found.reason}): changes between ${iso(found.from)} and ${iso(found.to)} were not shipped; restorable points nearby: ${iso(found.from)} and ${iso(found.to)}`, { exitCode: 2, details: { shortfall } });
      }
    }
  }
  return { generation: g, requestedAt: at, segments, restoresTo, window: { from: w.from, to: w.to }, ...(gap ? { gap } : {}), ...(shortfall ? { shortfall } : {}) };
}

const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);

/**
 * Retention: delete generations that no point at or after `keepFrom` needs (a later generation's
 * base is not after `keepFrom`), and incomplete ones older than a day. Never the newest generation.
 */
export async function pruneWal(opts: { target: Target; keepFrom: number; dryRun?: boolean; now?: number }): Promise<{ generations: string[]; objects: number; bytes: number }> {
  const { generations, incomplete } = await listWalGenerations(opts.target);
  const now = opts.now ?? Date.now();
  const doomed: string[] = [];
  for (let i = 0; i + 1 < generations.length; i++) {
    if (generations[i + 1]!.baseAt <= opts.keepFrom) doomed.push(generations[i]!.generation);
  }
  for (const g of incomplete) if (now - generationTime(g) > 24 * 3600_000) doomed.push(g);
  let objects = 0;
  let bytes = 0;
  for (const g of doomed) {
    const objs = await opts.target.list(generationPrefix(g));
    objects += objs.length;
    bytes += objs.reduce((n, o) => n + o.size, 0);
    // generation.json first: an interrupted prune leaves an incomplete (ignored) generation.
    const keys = objs.map((o) => o.key).sort((a, b) => (a === generationMetaKey(g) ? -1 : b === generationMetaKey(g) ? 1 : 0));
    if (!opts.dryRun && keys.length > 0) {
      await opts.target.delete(keys.slice(0, 1));
      await opts.target.delete(keys.slice(1));
    }
  }
  return { generations: doomed, objects, bytes };
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
