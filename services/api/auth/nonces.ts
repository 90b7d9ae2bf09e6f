/**
 * Sign-in nonces in Redis: issued with SET NX EX (TTL from config), consumed atomically once.
 * A consumed nonce leaves a marker for a day so a replay is told apart from an expired nonce.
 */
import type { Redis } from '../../shared/redis.js';
import { authKeys } from '../../shared/redis-names.js';
import { generateNonce } from 'siwe';

const CONSUME = `
local v = redis.call('GETDEL', KEYS[1])
if v then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
return 0`;

export type ConsumeResult = 'ok' | 'reused' | 'unknown';

export interface NonceStore {
  issue(): Promise<string>;
  consume(nonce: string): Promise<ConsumeResult>;
}

const USED_MARKER_TTL = 86_400;

export function createNonceStore(redis: Redis, ttlSeconds: number): NonceStore {
  return {
    async issue() {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const nonce = generateNonce();
        const ok = await redis.set(authKeys.nonce(nonce), '1', 'EX', ttlSeconds, 'NX');
        if (ok === 'OK') return nonce;
      }
      throw new Error('could not issue a unique nonce');
    },
    async consume(nonce) {
      const r = (await redis.eval(CONSUME, 2, authKeys.nonce(nonce), authKeys.nonceUsed(nonce), USED_MARKER_TTL)) as number;
      return r === 1 ? 'ok' : r === 2 ? 'reused' : 'unknown';
    },
  };
}
