/** Small measurement helpers for the web e2e: percentiles, gzip sizes of the initial bundle. */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

/** Gzipped bytes of the JavaScript index.html loads before anything else (entry + preloads). */
export function initialJsGzip(distDir: string): { files: string[]; bytes: number; gzip: number } {
  const html = fs.readFileSync(path.join(distDir, 'index.html'), 'utf8');
  const files = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)].map((m) => m[1] as string);
  let bytes = 0;
  let gzip = 0;
  for (const f of files) {
    const data = fs.readFileSync(path.join(distDir, f));
    bytes += data.length;
    gzip += zlib.gzipSync(data, { level: 9 }).length;
  }
  return { files, bytes, gzip };
}
