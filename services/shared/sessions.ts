/**
 * Sessions: a random 256-bit token handed to the client; Redis keeps only its SHA-256, so a Redis
 * dump or backup holds no usable token. Shared by the API and the realtime service.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from './redis.js';
import { authKeys } from './redis-names.js';

export interface Session {
  address: string;
  createdAt: number;
}

export interface SessionStore {
  create(address: string, now: number): Promise<string>;
  get(token: string): Promise<Session | undefined>;
  destroy(token: string): Promise<void>;
}

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export const sessionKey = (token: string) => authKeys.session(createHash('sha256').update(token).digest('hex'));

export function createSessionStore(redis: Redis, ttlSeconds: number): SessionStore {
  return {
    async create(address, now) {
      const token = randomBytes(32).toString('base64url');
      await redis.set(sessionKey(token), JSON.stringify({ address, createdAt: now } satisfies Session), 'EX', ttlSeconds);
      return token;
    },
    async get(token) {
      if (!TOKEN_RE.test(token)) return undefined;
      const raw = await redis.get(sessionKey(token));
      return raw ? (JSON.parse(raw) as Session) : undefined;
    },
    async destroy(token) {
      if (TOKEN_RE.test(token)) await redis.del(sessionKey(token));
    },
  };
}

/**
 * A per-process cache in front of a session store, for the hot path (every tap authenticates):
 * a session read from Redis is reused for `ttlMs`. A logout through this store evicts at once; a
 * session removed from Redis by another process stays usable here for at most `ttlMs`.
 */
export function withSessionCache(inner: SessionStore, opts: { ttlMs: number; max: number; now?: () => number }): SessionStore {
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { session: Session; until: number }>();
  return {
    create: (address, at) => inner.create(address, at),
    async get(token) {
      const hit = cache.get(token);
      if (hit && hit.until > now()) return hit.session;
      const session = await inner.get(token);
      cache.delete(token);
      if (session) {
        cache.set(token, { session, until: now() + opts.ttlMs });
        // Map order is insertion order: drop the oldest beyond the bound.
        if (cache.size > opts.max) cache.delete(cache.keys().next().value as string);
      }
      return session;
    },
    async destroy(token) {
      cache.delete(token);
      await inner.destroy(token);
    },
  };
}
