/**
 * File steps of the archiver: the crash-safe ones are the shared helpers
 * (services/shared/atomic-file.ts, HOUSE-STYLE 10); hashing a file or stream is the archiver's.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

export { commitFile, fsyncDir, fsyncFile } from '../../services/shared/atomic-file.js';

export function removeIfExists(file: string): void {
  fs.rmSync(file, { force: true });
}

export async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  await pipeline(stream, async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      h.update(chunk);
      bytes += chunk.length;
    }
    yield* [];
  });
  return { sha256: h.digest('hex'), bytes };
}

export const sha256OfFile = (file: string) => sha256Of(fs.createReadStream(file));
