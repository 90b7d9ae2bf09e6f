/** `node dist/healthchecks/http.js <url> [timeout-ms]`: exit 0 iff the URL answers 200. */
import { httpProbe } from './probes.js';

const [url, timeout] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: http.js <url> [timeout-ms]\n');
  process.exit(2);
}
const r = await httpProbe(url, Number(timeout) || 3000);
if (!r.ok) process.stderr.write(`${url}: ${r.detail}\n`);
process.exit(r.ok ? 0 : 1);
