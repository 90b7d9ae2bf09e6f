/**
 * The shipper's upload queue: bases, segments and confirmations stored strictly in the order they
 * were queued (a segment is useless before its base, and the state file may only move forward),
 * one at a time, each retried with backoff until it succeeds or the shipper drops it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EncryptionSpec, Target } from '../contracts.js';
import { uploadBase } from './base.js';
import { confirmedKey, generationMetaKey, segmentKey, type ConfirmedMeta, type GenerationMeta } from './segment.js';
import type { WalPosition } from './wal-file.js';

export type QueueItem =
  | { kind: 'confirm'; generation: string; index: number; confirmedUntil: number }
  | { kind: 'base'; generation: string; meta: Omit<GenerationMeta, 'base'>; size: number }
  | {
      kind: 'segment';
      generation: string;
      index: number;
      firstCommitAt: number;
      committedUntil: number;
      txns: number;
      /** Raw frame bytes (memory accounting). */
      bytes: number;
      /** The stored form (compressed, encrypted), being prepared. */
      body: Promise<Buffer>;
      /** The WAL position right after its last transaction. */
      after: WalPosition;
      lastScanStartedAt: number;
    };

export type Stored =
  | { kind: 'confirm' }
  | { kind: 'base'; meta: GenerationMeta }
  | { kind: 'segment'; key: string; size: number; sha256: string };

/** Store one item on the target; a segment is read back (`head`) to check its size. */
export async function storeItem(item: QueueItem, ctx: { target: Target; encryption: EncryptionSpec; dbFile: string }): Promise<Stored> {
  const t = ctx.target;
  if (item.kind === 'confirm') {
    const body: ConfirmedMeta = { format: 'tapstack-wal-confirmed/1', generation: item.generation, index: item.index, confirmedUntil: item.confirmedUntil };
    await putJson(t, confirmedKey(item.generation), body);
    return { kind: 'confirm' };
  }
  if (item.kind === 'base') {
    const base = await uploadBase({ dbFile: ctx.dbFile, size: item.size, target: t, encryption: ctx.encryption, generation: item.generation });
    const meta: GenerationMeta = { ...item.meta, base };
    // Last: a generation is listed only once its base is stored.
    await putJson(t, generationMetaKey(item.generation), meta);
    return { kind: 'base', meta };
  }
  const body = await item.body;
  const sha256 = createHash('sha256').update(body).digest('hex');
  const key = segmentKey({ generation: item.generation, index: item.index, firstCommitAt: item.firstCommitAt, committedUntil: item.committedUntil, sha256 });
  await t.put(key, () => Readable.from([body]), { size: body.length });
  const head = await t.head(key);
  if (head?.size !== body.length) throw new Error(`read-back of ${key}: expected ${body.length} bytes, found ${head?.size ?? 'nothing'}`);
  return { kind: 'segment', key, size: body.length, sha256 };
}

async function putJson(t: Target, key: string, value: unknown): Promise<void> {
  const json = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  await t.put(key, () => Readable.from([json]), { size: json.length });
}

export class UploadQueue {
  items: QueueItem[] = [];
  private active: Promise<void> | undefined;

  /**
   * `run` stores an item (and records it); `failed` decides what a failure means — it may drop the
   * item or clear the queue; an item still at the head is retried after a backoff.
   */
  constructor(
    private readonly run: (item: QueueItem) => Promise<void>,
    private readonly failed: (item: QueueItem, err: Error, failures: number) => void,
  ) {}

  push(item: QueueItem): void {
    this.items.push(item);
    void this.pump();
  }

  clear(): void {
    this.items = [];
  }

  /** Raw bytes of queued segments. */
  bytes(): number {
    return this.items.reduce((n, q) => n + (q.kind === 'segment' ? q.bytes : 0), 0);
  }

  /** Runs until the queue is empty; resolves then (immediately when idle). */
  pump(): Promise<void> {
    this.active ??= (async () => {
      await null; // the body must run after `active` is assigned (its `finally` clears it)
      try {
        let failures = 0;
        while (this.items.length > 0) {
          const item = this.items[0]!;
          try {
            await this.run(item);
            if (this.items[0] === item) this.items.shift();
            failures = 0;
          } catch (err) {
            failures++;
            this.failed(item, err as Error, failures);
            if (this.items[0] === item) await sleep(backoff(failures));
          }
        }
      } finally {
        this.active = undefined;
      }
    })();
    return this.active;
  }

  /** The running pump, if any. */
  running(): Promise<void> | undefined {
    return this.active;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const backoff = (n: number) => Math.min(30_000, 250 * 2 ** Math.min(n, 7));
