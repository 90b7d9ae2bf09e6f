/**
 * On start-up: may the shipper continue the generation its state file names? Only if the target
 * still holds that generation with exactly the last segment the state file recorded, and the WAL
 * still contains the last frame shipped (same salts, same cumulative checksum) — then no frame
 * after it can have been lost, because a WAL reset changes the salts.
 */
import type { Readable } from 'node:stream';
import type { Target } from '../contracts.js';
import { generationMetaKey, generationPrefix, parseSegmentKey, type GenerationMeta } from './segment.js';
import { readState, type ShipperState } from './state.js';
import { positionFromJson, verifyPosition, type WalPosition } from './wal-file.js';

export type ResumeCheck =
  | { ok: true; state: ShipperState; meta: GenerationMeta; position: WalPosition }
  /** `state` undefined: nothing to resume (first start). */
  | { ok: false; state?: ShipperState; detail: string };

export async function checkResume(opts: { stateFile: string; dbFile: string; walFile: string; target: Target }): Promise<ResumeCheck> {
  const s = readState(opts.stateFile);
  if (!s || s.dbFile !== opts.dbFile || s.target !== opts.target.name) return { ok: false, detail: 'no previous generation to continue' };
  const fail = (detail: string): ResumeCheck => ({ ok: false, state: s, detail });
  let position: WalPosition;
  try {
    position = positionFromJson(s.position);
  } catch {
    return fail('the state file is damaged');
  }
  const objects = await opts.target.list(generationPrefix(s.generation));
  if (!objects.some((o) => o.key === generationMetaKey(s.generation))) return fail(`generation ${s.generation} is not on the target`);
  const last = Math.max(0, ...objects.map((o) => parseSegmentKey(o.key)?.index ?? 0));
  if (last !== s.index) return fail(`the target's last segment is ${last}, the state file says ${s.index}`);
  const v = verifyPosition(opts.walFile, position);
  if (!v.ok) return fail(v.reason);
  const meta = JSON.parse((await readAll(await opts.target.get(generationMetaKey(s.generation)))).toString('utf8')) as GenerationMeta;
  return { ok: true, state: s, meta, position };
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
