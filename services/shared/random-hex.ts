/**
 * Random hex strings for ids made on the hot path (one per tap). `randomBytes(8)` costs a call
 * into OpenSSL and a new Buffer each time (≈ 5 % of the API's CPU at the bench's rates); this
 * draws from a pool refilled 4 KiB at a time, the way `crypto.randomUUID` caches its entropy.
 * The bytes are the same CSPRNG's; each is handed out once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** `bytes` random bytes (1–256) as lowercase hex. */
export function randomHex(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError(`randomHex: 1-256 bytes, got ${bytes}`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
