/**
 * The Sign-In with Ethereum rig shared by the auth test files: a real redis-server and API, plus
 * the message builders and the error-shape assertions they use.
 */
import type { ExecutionContext } from 'ava';
import { Wallet } from 'ethers';
import { post, startApi, type TestApi } from './api.js';
import { startRedis, type TestRedis } from './redis-server.js';
import { signedLogin, type MessageFields } from './wallet.js';

export const ORIGIN = 'https://tapstack.test';
export const DOMAIN = 'tapstack.test';
export const COOKIE = 'tapstack_session';

/**
 * One redis-server and one API for a test file (every request comes from 127.0.0.1, so the per-IP
 * sign-in limit is lifted), and extra APIs on the same Redis started by single tests.
 */
export async function startAuthRig() {
  const redis: TestRedis = await startRedis();
  const api: TestApi = await startApi(redis, { TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '100000' });
  const extras: TestApi[] = [];
  return {
    redis,
    api,
    async extraApi(env: Record<string, string>): Promise<TestApi> {
      const a = await startApi(redis, env);
      extras.push(a);
      return a;
    },
    async stop(): Promise<void> {
      for (const a of extras) await a.stop();
      await api.stop();
      await redis.stop();
    },
  };
}

export type Res = { status: number; headers: Headers; body: any };

export function assertError(t: ExecutionContext, res: Res, status: number, code: string) {
  t.is(res.status, status, `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  t.is(res.body?.error?.code, code);
  t.is(typeof res.body?.error?.message, 'string');
}

/** A JSON error body that says nothing about internals (5xx) and names a code. */
export function assertCleanError(t: ExecutionContext, res: Res) {
  t.true(res.body !== null && typeof res.body === 'object', `not JSON: ${String(res.body)}`);
  t.deepEqual(Object.keys(res.body), ['error']);
  t.is(typeof res.body.error.code, 'string');
  t.true(res.body.error.code.length > 0);
  t.is(typeof res.body.error.message, 'string');
  const text = JSON.stringify(res.body);
  for (const leak of ['    at ', 'ECONNREFUSED', 'ioredis', 'Redis', 'stack', 'node_modules', '.js:']) {
    t.false(text.includes(leak), `error body leaks "${leak}": ${text}`);
  }
}

export const verify = (a: TestApi, message: string, signature: string, headers: Record<string, string> = {}) =>
  post(a.base, '/api/auth/verify', { message, signature }, headers);

/** Sign a message for a fresh nonce with `override`d fields and submit it. */
export async function tryLogin(a: TestApi, wallet: Wallet, override: Partial<MessageFields> = {}, headers: Record<string, string> = {}) {
  const { message, signature } = await signedLogin(a.base, wallet, override, headers);
  return verify(a, message, signature, headers);
}

export async function freshNonce(a: TestApi): Promise<string> {
  const n = await post(a.base, '/api/auth/nonce', {});
  if (n.status !== 200) throw new Error(`nonce: ${n.status} ${JSON.stringify(n.body)}`);
  return n.body.nonce as string;
}

export const fields = (nonce: string, over: Partial<MessageFields> = {}): MessageFields => ({
  domain: DOMAIN,
  uri: `${ORIGIN}/`,
  chainId: 1,
  nonce,
  issuedAt: new Date(),
  ...over,
});

export const cookieHeader = (token: string) => ({ Cookie: `${COOKIE}=${token}` });
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
export const randomWallet = () => Wallet.createRandom() as unknown as Wallet;
