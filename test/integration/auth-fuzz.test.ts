/**
 * Property tests of the sign-in edge: whatever a client sends, the API answers below 500, and every
 * refusal is the `{error: {code, message}}` envelope with a string code. Real Redis, real SQLite.
 */
import test from 'ava';
import fc from 'fast-check';
import { Wallet } from 'ethers';
import { startApi, type TestApi } from '../helpers/api.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { buildMessage } from '../helpers/wallet.js';

const RUNS = { numRuns: 200 };

let redis: TestRedis;
let api: TestApi;
const wallet = Wallet.createRandom() as unknown as Wallet;

test.before(async () => {
  redis = await startRedis();
  // Limits high enough that the limiter never answers in place of the code under test.
  api = await startApi(redis, { TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '1000000', TAPSTACK_AUTH_RATE_ADDRESS_PER_MINUTE: '1000000' });
});

test.after.always(async () => {
  await api?.stop();
  await redis?.stop();
});

interface Raw {
  status: number;
  text: string;
}

async function send(method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  const res = await fetch(api.base + path, { method, headers: opts.headers ?? {}, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  return { status: res.status, text: await res.text() };
}

/** Throws (so fast-check shrinks and reports) unless the answer is < 500 and a refusal has a code. */
function expectSane(r: Raw, what: string, allow: { success: boolean }): void {
  const where = `${what} -> ${r.status} ${r.text.slice(0, 300)}`;
  if (r.status >= 500) throw new Error(`server error: ${where}`);
  if (r.status < 400) {
    if (!allow.success) throw new Error(`unexpected success: ${where}`);
    return;
  }
  let body: any;
  try {
    body = JSON.parse(r.text);
  } catch {
    throw new Error(`refusal is not JSON: ${where}`);
  }
  if (typeof body?.error?.code !== 'string' || body.error.code === '' || typeof body.error.message !== 'string') {
    throw new Error(`refusal without a string error.code: ${where}`);
  }
}

const char = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));
/** Values fetch can put in a header: visible ASCII, space, tab, and obs-text (0x80-0xff). */
const headerValue = fc.string({ unit: fc.oneof(char(0x20, 0x7e), char(0x80, 0xff), fc.constant('\t')), maxLength: 120 });
const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: n, maxLength: n });
const wellFormedSignature = hex(130).map((h) => `0x${h}`);
const token43 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 43, maxLength: 43 });
const clientIp = fc.ipV4();

const jsonHeaders = (ip: string) => ({ 'content-type': 'application/json', 'X-Forwarded-For': ip });

test('arbitrary JSON bodies to /api/auth/verify are refused with a code, never 5xx', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), clientIp, async (value, ip) => {
      const body = JSON.stringify(value);
      expectSane(await send('POST', '/api/auth/verify', { body, headers: jsonHeaders(ip) }), `verify ${body}`, { success: false });
    }),
    RUNS,
  );
  t.pass();
});

test('objects shaped almost like a sign-in are refused with a code, never 5xx', async (t) => {
  const field = fc.oneof(fc.string({ maxLength: 200 }), wellFormedSignature, fc.jsonValue({ maxDepth: 2 }));
  await fc.assert(
    fc.asyncProperty(fc.record({ message: field, signature: field }, { requiredKeys: [] }), clientIp, async (value, ip) => {
      const body = JSON.stringify(value);
      expectSane(await send('POST', '/api/auth/verify', { body, headers: jsonHeaders(ip) }), `verify ${body}`, { success: false });
    }),
    RUNS,
  );
  t.pass();
});

test('arbitrary JSON bodies to /api/auth/nonce issue a nonce or are refused with a code', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), clientIp, async (value, ip) => {
      const body = JSON.stringify(value);
      const r = await send('POST', '/api/auth/nonce', { body, headers: jsonHeaders(ip) });
      expectSane(r, `nonce ${body}`, { success: true });
      if (r.status === 200 && typeof JSON.parse(r.text).nonce !== 'string') throw new Error(`200 without a nonce: ${r.text}`);
    }),
    RUNS,
  );
  t.pass();
});

test('arbitrary text bodies under any content type are answered below 500', async (t) => {
  const contentType = fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/vnd.api+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
    ),
    headerValue,
  );
  const path = fc.constantFrom('/api/auth/verify', '/api/auth/nonce', '/api/auth/logout');
  await fc.assert(
    fc.asyncProperty(path, fc.string({ unit: 'binary', maxLength: 400 }), contentType, clientIp, async (p, body, type, ip) => {
      const r = await send('POST', p, { body, headers: { 'content-type': type, 'X-Forwarded-For': ip } });
      expectSane(r, `${p} [${type}] ${JSON.stringify(body)}`, { success: p !== '/api/auth/verify' });
    }),
    RUNS,
  );
  t.pass();
});

// Messages: free text, a real SIWE message with random edits, and SIWE templates with arbitrary
// field values; signed either with a random well-formed signature or really by the wallet.
const NEVER_ISSUED = 'fuzzNonce12345678';
const template = () => buildMessage(wallet, { domain: 'tapstack.test', uri: 'https://tapstack.test/', chainId: 1, nonce: NEVER_ISSUED, issuedAt: new Date() });

const edit = fc.record({ at: fc.nat(), drop: fc.nat({ max: 12 }), insert: fc.string({ unit: 'binary', maxLength: 12 }) });
const editedMessage = fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
  let m = template();
  for (const e of edits) {
    const at = e.at % (m.length + 1);
    m = m.slice(0, at) + e.insert + m.slice(at + e.drop);
  }
  return m;
});

const fieldText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
/** Mostly the right value, sometimes a wrong one: whole messages often parse and reach the later checks. */
const mostly = <T, U>(right: fc.Arbitrary<T>, wrong: fc.Arbitrary<U>) => fc.oneof({ arbitrary: right, weight: 10 }, { arbitrary: wrong, weight: 1 });
const isoNear = fc.integer({ min: -120_000, max: 120_000 }).map((ms) => new Date(Date.now() + ms).toISOString());
const isoAny = fc.oneof(isoNear, fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom('now', '2024-02-30T25:61:00Z'), fieldText);
const templatedMessage = fc
  .record({
    scheme: fc.option(mostly(fc.constant('https'), fc.oneof(fc.constantFrom('http', 'ftp'), fieldText)), { nil: undefined }),
    domain: mostly(fc.constant('tapstack.test'), fc.oneof(fc.constantFrom('evil.test', 'tapstack.test:443'), fc.domain(), fieldText)),
    address: mostly(fc.constant(wallet.address), fc.oneof(fc.constant(wallet.address.toLowerCase()), hex(40).map((h) => `0x${h}`), fieldText)),
    statement: fc.option(mostly(fc.constant('Sign in to Tapstack'), fieldText), { nil: undefined }),
    uri: mostly(fc.constant('https://tapstack.test/'), fc.oneof(fc.constantFrom('https://tapstack.test:8443/x', 'http://tapstack.test/', 'urn:x'), fc.webUrl(), fieldText)),
    version: mostly(fc.constant('1'), fieldText),
    chainId: mostly(fc.constant('1'), fc.oneof(fc.constantFrom('5', '0', '-1', '99999999999999999999999'), fieldText)),
    nonce: mostly(fc.constant(NEVER_ISSUED), fieldText),
    issuedAt: mostly(isoNear.filter((iso) => Math.abs(Date.parse(iso) - Date.now()) < 20_000), isoAny),
    expirationTime: fc.option(isoAny, { nil: undefined, freq: 3 }),
    notBefore: fc.option(isoAny, { nil: undefined, freq: 3 }),
  })
  .map((f) =>
    [
      `${f.scheme ? `${f.scheme}://` : ''}${f.domain} wants you to sign in with your Ethereum account:`,
      f.address,
      '',
      ...(f.statement !== undefined ? [f.statement] : []),
      '',
      `URI: ${f.uri}`,
      `Version: ${f.version}`,
      `Chain ID: ${f.chainId}`,
      `Nonce: ${f.nonce}`,
      `Issued At: ${f.issuedAt}`,
      ...(f.expirationTime !== undefined ? [`Expiration Time: ${f.expirationTime}`] : []),
      ...(f.notBefore !== undefined ? [`Not Before: ${f.notBefore}`] : []),
    ].join('\n'),
  );

const anyMessage = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 600 }), weight: 1 },
  { arbitrary: editedMessage, weight: 1 },
  { arbitrary: templatedMessage, weight: 3 },
);

test('arbitrary messages with a well-formed signature are refused with a code, never 5xx', async (t) => {
  await fc.assert(
    fc.asyncProperty(anyMessage, fc.boolean(), wellFormedSignature, clientIp, async (message, signReally, randomSig, ip) => {
      // Sign the UTF-8 bytes: ethers refuses to encode lone surrogates, which the server must survive.
      const signature = signReally ? await wallet.signMessage(new TextEncoder().encode(message)) : randomSig;
      const body = JSON.stringify({ message, signature });
      expectSane(await send('POST', '/api/auth/verify', { body, headers: jsonHeaders(ip) }), `verify ${body}`, { success: false });
    }),
    RUNS,
  );
  t.pass();
});

test('arbitrary Authorization and Cookie headers on /api/me are refused with a code, never 5xx', async (t) => {
  const authorization = fc.option(fc.oneof(headerValue, headerValue.map((v) => `Bearer ${v}`), token43.map((v) => `Bearer ${v}`)), { nil: undefined });
  const cookie = fc.option(
    fc.oneof(headerValue, headerValue.map((v) => `tapstack_session=${v}`), token43.map((v) => `a=b; tapstack_session=${v}; c`)),
    { nil: undefined },
  );
  await fc.assert(
    fc.asyncProperty(authorization, cookie, async (auth, ck) => {
      const headers: Record<string, string> = {};
      if (auth !== undefined) headers.Authorization = auth;
      if (ck !== undefined) headers.Cookie = ck;
      expectSane(await send('GET', '/api/me', { headers }), `me ${JSON.stringify(headers)}`, { success: false });
      expectSane(await send('POST', '/api/auth/logout', { headers }), `logout ${JSON.stringify(headers)}`, { success: true });
    }),
    RUNS,
  );
  t.pass();
});

test('arbitrary X-Forwarded-For values never break the per-IP limiter', async (t) => {
  await fc.assert(
    fc.asyncProperty(headerValue, async (xff) => {
      expectSane(await send('POST', '/api/auth/nonce', { headers: { 'X-Forwarded-For': xff } }), `nonce XFF ${JSON.stringify(xff)}`, { success: true });
    }),
    RUNS,
  );
  t.pass();
});
