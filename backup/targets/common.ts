/**
 * What all targets share: options, retries with backoff, and the byte counter that enforces
 * `put(..., { size })` before anything becomes visible.
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../../services/shared/logger.js';
import { isRetryable, messageOf, TargetError, type TargetErrorCode } from './errors.js';

export interface TargetOptions {
  log?: Logger;
  /**
   * Attempts per operation that may be retried (put always; for rsync also get/head/list/delete;
   * the S3 SDK retries its own requests). Default 3. Backoff: `retryDelayMs` × 4^n (default 250 ms),
   * so a target that is down fails in about a second, not minutes.
   */
  attempts?: number;
  retryDelayMs?: number;
  /** Where rsync stages files (a private directory is made inside). Default: the OS temp dir. */
  tmpDir?: string;
}

export interface RetryPolicy {
  attempts: number;
  delayMs: number;
  log: Logger | undefined;
}

export function retryPolicy(opts: TargetOptions): RetryPolicy {
  return { attempts: Math.max(1, opts.attempts ?? 3), delayMs: opts.retryDelayMs ?? 250, log: opts.log };
}

/**
 * Run `fn` until it succeeds, an error `retryIf` rejects (default: permanent codes, see errors.ts)
 * occurs or the attempts run out;
 * the last error is rethrown unchanged.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  what: Record<string, unknown>,
  fn: (attempt: number) => Promise<T>,
  retryIf: (err: unknown) => boolean = isRetryable,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !retryIf(err)) throw err;
      const delay = policy.delayMs * 4 ** (attempt - 1);
      policy.log?.warn({ ...what, attempt, retryInMs: delay, err: messageOf(err) }, 'target operation failed, retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Passes bytes through and counts them; with `expected` set it fails the stream as soon as there
 * are too many bytes, or at the end if there are too few — before the consumer sees the end, so
 * the object is never committed (no rename, no CompleteMultipartUpload, no rsync run).
 */
export class ByteCounter extends Transform {
  bytes = 0;

  constructor(private readonly expected: number | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expected !== undefined && this.bytes > this.expected) return cb(this.mismatch());
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expected !== undefined && this.bytes !== this.expected) return cb(this.mismatch());
    cb();
  }

  private mismatch(): TargetError {
    return new TargetError('size-mismatch', `stream size mismatch: expected ${this.expected} bytes, got ${this.bytes}${this.bytes > (this.expected ?? 0) ? '+' : ''}`);
  }
}

/** A short random suffix for temp names. */
export function randomSuffix(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Pull `source` through a `ByteCounter` into `write`; resolves with the byte count
 * once the source ended and every write finished. Any failure (source, size, write) rejects.
 */
export async function drain(source: Readable, size: number | undefined, write: (chunk: Buffer) => Promise<unknown>): Promise<number> {
  const counter = new ByteCounter(size);
  await pipeline(source, counter, async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) await write(chunk);
  });
  return counter.bytes;
}

/** Write all of `chunk` (a single write may be short, e.g. on a nearly full disk). */
export async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off)).bytesWritten;
}

/** Prefix an error with the target and operation, keeping its code (`failed` for foreign errors). */
export function targetError(target: string, op: string, err: unknown, fallback: TargetErrorCode = 'failed'): TargetError {
  const code = err instanceof TargetError ? err.code : fallback;
  return new TargetError(code, `${target}: ${op} failed: ${messageOf(err)}`, { cause: err });
}
