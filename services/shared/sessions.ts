/**
 * Sessions: a random 256-bit token handed to the client; Redis keeps only its SHA-256, so a Redis
 * dump or backup holds no usable token. Shared by the API and the realtime service.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from './redis.js';

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

export const sessionKey = (token: string) => `session:${createHash('sha256').update(token).digest('hex')}`;

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
