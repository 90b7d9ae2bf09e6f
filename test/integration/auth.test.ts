/**
 * Sign-In with Ethereum against the real API: a real redis-server, a real SQLite file, real
 * EIP-191 signatures from random ethers wallets. Assertions are on HTTP status and `error.code`.
 */
import test, { type ExecutionContext } from 'ava';
import { Wallet, getAddress } from 'ethers';
import { get, post, startApi, startWriterFor, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { buildMessage, signedLogin, signIn, type MessageFields } from '../helpers/wallet.js';

const ORIGIN = 'https://tapstack.test';
const DOMAIN = 'tapstack.test';
const COOKIE = 'tapstack_session';

let redis: TestRedis;
let api: TestApi;
// Extra APIs started by single tests (own key prefix on the same Redis); stopped at the end.
const extraApis: TestApi[] = [];

test.before(async () => {
  redis = await startRedis();
  // Every request here comes from 127.0.0.1: lift the per-IP limit so it never masks a result.
  api = await startApi(redis, { TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '100000' });
});

test.after.always(async () => {
  for (const a of extraApis) await a.stop();
  await api?.stop();
  await redis?.stop();
});

async function extraApi(env: Record<string, string>): Promise<TestApi> {
  const a = await startApi(redis, env);
  extraApis.push(a);
  return a;
}

type Res = { status: number; headers: Headers; body: any };

function assertError(t: ExecutionContext, res: Res, status: number, code: string) {
  t.is(res.status, status, `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  t.is(res.body?.error?.code, code);
  t.is(typeof res.body?.error?.message, 'string');
}

/** A JSON error body that says nothing about internals (5xx) and names a code. */
function assertCleanError(t: ExecutionContext, res: Res) {
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

const verify = (a: TestApi, message: string, signature: string, headers: Record<string, string> = {}) =>
  post(a.base, '/api/auth/verify', { message, signature }, headers);

/** Sign a message for a fresh nonce with `override`d fields and submit it. */
async function tryLogin(a: TestApi, wallet: Wallet, override: Partial<MessageFields> = {}, headers: Record<string, string> = {}) {
  const { message, signature } = await signedLogin(a.base, wallet, override, headers);
  return verify(a, message, signature, headers);
}

async function freshNonce(a: TestApi): Promise<string> {
  const n = await post(a.base, '/api/auth/nonce', {});
  if (n.status !== 200) throw new Error(`nonce: ${n.status} ${JSON.stringify(n.body)}`);
  return n.body.nonce as string;
}

const fields = (nonce: string, over: Partial<MessageFields> = {}): MessageFields => ({
  domain: DOMAIN,
  uri: `${ORIGIN}/`,
  chainId: 1,
  nonce,
  issuedAt: new Date(),
  ...over,
});

const cookieHeader = (token: string) => ({ Cookie: `${COOKIE}=${token}` });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const randomWallet = () => Wallet.createRandom() as unknown as Wallet;

// ---------------------------------------------------------------------------------------------
// Happy path, sessions, logout

test('nonce response names the configured domain, origin and chain ids', async (t) => {
  const n = await post(api.base, '/api/auth/nonce', {});
  t.is(n.status, 200);
  t.regex(n.body.nonce, /^[A-Za-z0-9]{8,}$/);
  t.is(n.body.domain, DOMAIN);
  t.is(n.body.uri, ORIGIN);
  t.deepEqual(n.body.chainIds, [1]);
  t.is(n.body.expiresInSeconds, 90);
  t.is(n.headers.get('cache-control'), 'no-store');
  t.not((await post(api.base, '/api/auth/nonce', {})).body.nonce, n.body.nonce);
});

test('sign-in returns a token, a strict session cookie, and /api/me works with cookie and bearer', async (t) => {
  const wallet = randomWallet();
  const r = await tryLogin(api, wallet);
  t.is(r.status, 200, JSON.stringify(r.body));
  t.regex(r.body.token, /^[A-Za-z0-9_-]{43}$/);
  t.is(r.body.address, wallet.address);
  t.is(getAddress(r.body.address), r.body.address, 'address is EIP-55');
  t.is(r.body.balance, 0);
  t.is(r.body.expiresInSeconds, 86400);
  t.is(r.headers.get('cache-control'), 'no-store');

  const setCookie = r.headers.get('set-cookie') ?? '';
  const [pair, ...attrs] = setCookie.split(';').map((s) => s.trim());
  t.is(pair, `${COOKIE}=${r.body.token}`);
  for (const a of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', 'Max-Age=86400']) t.true(attrs.includes(a), `cookie lacks ${a}: ${setCookie}`);

  for (const headers of [cookieHeader(r.body.token), bearer(r.body.token)]) {
    const me = await get(api.base, '/api/me', headers);
    t.is(me.status, 200, JSON.stringify(me.body));
    t.is(me.body.address, wallet.address);
    t.is(getAddress(me.body.address), me.body.address);
    t.is(me.body.balance, 0);
    t.is(me.body.currency.code, 'USD');
    t.false(Number.isNaN(Date.parse(me.body.createdAt)));
  }
});

test('a second sign-in of the same wallet is a new session on the same account', async (t) => {
  const wallet = randomWallet();
  const first = await signIn(api.base, wallet);
  const second = await signIn(api.base, wallet);
  t.not(first, second);
  t.is((await get(api.base, '/api/me', bearer(first))).status, 200);
  t.is((await get(api.base, '/api/me', bearer(second))).status, 200);
  const rows = api.db.raw.prepare('SELECT COUNT(*) AS n FROM users WHERE address = ?').get(wallet.address) as { n: number };
  t.is(rows.n, 1);
});

test('logout with the cookie destroys the session and clears the cookie', async (t) => {
  const token = await signIn(api.base, randomWallet());
  const out = await post(api.base, '/api/auth/logout', {}, { ...cookieHeader(token), Origin: ORIGIN });
  t.is(out.status, 204);
  const cleared = out.headers.get('set-cookie') ?? '';
  t.true(cleared.startsWith(`${COOKIE}=;`), cleared);
  t.true(cleared.includes('Max-Age=0'), cleared);
  assertError(t, await get(api.base, '/api/me', cookieHeader(token)), 401, 'session-expired');
  assertError(t, await get(api.base, '/api/me', bearer(token)), 401, 'session-expired');
});

test('logout with a bearer token destroys the session', async (t) => {
  const token = await signIn(api.base, randomWallet());
  t.is((await post(api.base, '/api/auth/logout', {}, bearer(token))).status, 204);
  assertError(t, await get(api.base, '/api/me', bearer(token)), 401, 'session-expired');
});

test('logout of one session leaves the other sessions of the wallet alive', async (t) => {
  const wallet = randomWallet();
  const a = await signIn(api.base, wallet);
  const b = await signIn(api.base, wallet);
  t.is((await post(api.base, '/api/auth/logout', {}, bearer(a))).status, 204);
  assertError(t, await get(api.base, '/api/me', bearer(a)), 401, 'session-expired');
  t.is((await get(api.base, '/api/me', bearer(b))).status, 200);
});

test('a session past its TTL is session-expired, and its cookie says so', async (t) => {
  const shortSession = await extraApi({ TAPSTACK_SESSION_TTL_SECONDS: '1', TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '1000' });
  const r = await tryLogin(shortSession, randomWallet());
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(r.body.expiresInSeconds, 1);
  t.true((r.headers.get('set-cookie') ?? '').includes('Max-Age=1;'));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assertError(t, await get(shortSession.base, '/api/me', bearer(r.body.token)), 401, 'session-expired');
});

test('logout without a session is a harmless 204', async (t) => {
  t.is((await post(api.base, '/api/auth/logout', {})).status, 204);
});

test('/api/me without credentials is 401 not-signed-in', async (t) => {
  assertError(t, await get(api.base, '/api/me'), 401, 'not-signed-in');
  assertError(t, await get(api.base, '/api/me', { Cookie: 'other=1; another=2' }), 401, 'not-signed-in');
});

test('/api/me with a garbage or unknown token is 401', async (t) => {
  assertError(t, await get(api.base, '/api/me', { Authorization: 'Bearer not a token!' }), 401, 'invalid-authorization');
  assertError(t, await get(api.base, '/api/me', { Authorization: 'Basic dXNlcjpwYXNz' }), 401, 'invalid-authorization');
  assertError(t, await get(api.base, '/api/me', { Authorization: 'Bearer' }), 401, 'invalid-authorization');
  assertError(t, await get(api.base, '/api/me', bearer('abc')), 401, 'session-expired');
  assertError(t, await get(api.base, '/api/me', bearer('A'.repeat(43))), 401, 'session-expired');
  assertError(t, await get(api.base, '/api/me', cookieHeader('garbage%00;;')), 401, 'session-expired');
  assertError(t, await get(api.base, '/api/me', cookieHeader('B'.repeat(43))), 401, 'session-expired');
});

// ---------------------------------------------------------------------------------------------
// Nonces: one use, expiry, never burnt by a forgery

test('replaying the same message and signature is refused as nonce-reused', async (t) => {
  const { message, signature } = await signedLogin(api.base, randomWallet());
  t.is((await verify(api, message, signature)).status, 200);
  assertError(t, await verify(api, message, signature), 401, 'nonce-reused');
});

test('the same signed message sent five times at once signs in exactly once', async (t) => {
  const { message, signature } = await signedLogin(api.base, randomWallet());
  const results = await Promise.all(Array.from({ length: 5 }, () => verify(api, message, signature)));
  t.is(results.filter((r) => r.status === 200).length, 1, JSON.stringify(results.map((r) => r.body)));
  for (const r of results.filter((x) => x.status !== 200)) assertError(t, r, 401, 'nonce-reused');
});

test('a new message signed with an already used nonce is nonce-reused', async (t) => {
  const wallet = randomWallet();
  const { message, signature, nonce } = await signedLogin(api.base, wallet);
  t.is((await verify(api, message, signature)).status, 200);
  const again = buildMessage(wallet, fields(nonce, { issuedAt: new Date(Date.now() + 1) }));
  t.not(again, message);
  assertError(t, await verify(api, again, await wallet.signMessage(again)), 401, 'nonce-reused');
});

test('a nonce the server never issued is nonce-expired', async (t) => {
  const wallet = randomWallet();
  const message = buildMessage(wallet, fields('neverIssued12345678'));
  assertError(t, await verify(api, message, await wallet.signMessage(message)), 401, 'nonce-expired');
});

test('a nonce past its TTL is nonce-expired', async (t) => {
  const shortTtl = await extraApi({ TAPSTACK_NONCE_TTL_SECONDS: '1', TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '1000' });
  const wallet = randomWallet();
  const nonce = await freshNonce(shortTtl);
  await new Promise((r) => setTimeout(r, 1500));
  const message = buildMessage(wallet, fields(nonce));
  assertError(t, await verify(shortTtl, message, await wallet.signMessage(message)), 401, 'nonce-expired');
});

test('a forged signature does not burn the nonce of the legitimate client', async (t) => {
  const victim = randomWallet();
  const attacker = randomWallet();
  const { message, signature } = await signedLogin(api.base, victim);
  assertError(t, await verify(api, message, await attacker.signMessage(message)), 401, 'bad-signature');
  assertError(t, await verify(api, message, `0x${'0'.repeat(130)}`), 401, 'bad-signature');
  const ok = await verify(api, message, signature);
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.is(ok.body.address, victim.address);
});

test('a refused message (wrong domain) does not burn its nonce either', async (t) => {
  const wallet = randomWallet();
  const nonce = await freshNonce(api);
  const wrong = buildMessage(wallet, fields(nonce, { domain: 'evil.test' }));
  assertError(t, await verify(api, wrong, await wallet.signMessage(wrong)), 401, 'domain-mismatch');
  const right = buildMessage(wallet, fields(nonce));
  t.is((await verify(api, right, await wallet.signMessage(right))).status, 200);
});

// ---------------------------------------------------------------------------------------------
// Message fields checked against the config

test('a message for another domain is domain-mismatch', async (t) => {
  assertError(t, await tryLogin(api, randomWallet(), { domain: 'evil.test' }), 401, 'domain-mismatch');
  assertError(t, await tryLogin(api, randomWallet(), { domain: 'tapstack.test:8443' }), 401, 'domain-mismatch');
});

test('a Host header naming another domain does not change the expected domain', async (t) => {
  const wallet = randomWallet();
  const nonce = await freshNonce(api);
  const message = buildMessage(wallet, fields(nonce, { domain: '127.0.0.1', uri: `${api.base}/` }));
  const r = await verify(api, message, await wallet.signMessage(message));
  assertError(t, r, 401, 'domain-mismatch');
});

test('a message whose URI has another origin is origin-mismatch', async (t) => {
  assertError(t, await tryLogin(api, randomWallet(), { uri: 'https://evil.test/' }), 401, 'origin-mismatch');
  assertError(t, await tryLogin(api, randomWallet(), { uri: 'https://tapstack.test:8443/' }), 401, 'origin-mismatch');
  assertError(t, await tryLogin(api, randomWallet(), { uri: 'http://tapstack.test/' }), 401, 'origin-mismatch');
});

test('a URI on the right origin with a path is accepted', async (t) => {
  const r = await tryLogin(api, randomWallet(), { uri: `${ORIGIN}/play?x=1` });
  t.is(r.status, 200, JSON.stringify(r.body));
});

test('a chain id outside the allow-list is chain-not-allowed', async (t) => {
  assertError(t, await tryLogin(api, randomWallet(), { chainId: 5 }), 401, 'chain-not-allowed');
  assertError(t, await tryLogin(api, randomWallet(), { chainId: 137 }), 401, 'chain-not-allowed');
});

test('a scheme other than the public origin\'s is scheme-mismatch; the matching scheme is accepted', async (t) => {
  assertError(t, await tryLogin(api, randomWallet(), { scheme: 'http' }), 401, 'scheme-mismatch');
  const ok = await tryLogin(api, randomWallet(), { scheme: 'https' });
  t.is(ok.status, 200, JSON.stringify(ok.body));
});

/** Sign in with issuedAt `offsetMs` from now, taken after the nonce round trip to keep the margin. */
async function loginIssuedAt(a: TestApi, offsetMs: number) {
  const wallet = randomWallet();
  const nonce = await freshNonce(a);
  const message = buildMessage(wallet, fields(nonce, { issuedAt: new Date(Date.now() + offsetMs) }));
  return verify(a, message, await wallet.signMessage(message));
}

// Serial: the 1 s margins around the 30 s bound must not absorb the stalls of ~50 concurrent tests
// (ava runs serial tests first, on their own).
test.serial('issuedAt more than 30 s from the server clock is issued-at-skew, either way', async (t) => {
  assertError(t, await loginIssuedAt(api, -31_000), 401, 'issued-at-skew');
  assertError(t, await loginIssuedAt(api, 31_000), 401, 'issued-at-skew');
  assertError(t, await loginIssuedAt(api, -3_600_000), 401, 'issued-at-skew');
  assertError(t, await loginIssuedAt(api, 3_600_000), 401, 'issued-at-skew');
});

test.serial('issuedAt 29 s from the server clock is accepted, either way', async (t) => {
  const past = await loginIssuedAt(api, -29_000);
  t.is(past.status, 200, JSON.stringify(past.body));
  const future = await loginIssuedAt(api, 29_000);
  t.is(future.status, 200, JSON.stringify(future.body));
});

test('an expirationTime in the past is message-expired', async (t) => {
  assertError(t, await tryLogin(api, randomWallet(), { expirationTime: new Date(Date.now() - 1000) }), 401, 'message-expired');
});

test('a notBefore in the future is message-not-yet-valid', async (t) => {
  assertError(t, await tryLogin(api, randomWallet(), { notBefore: new Date(Date.now() + 60_000) }), 401, 'message-not-yet-valid');
});

test('a future expirationTime and a past notBefore are accepted', async (t) => {
  const r = await tryLogin(api, randomWallet(), { expirationTime: new Date(Date.now() + 60_000), notBefore: new Date(Date.now() - 1000) });
  t.is(r.status, 200, JSON.stringify(r.body));
});

// ---------------------------------------------------------------------------------------------
// Signatures and message syntax

test('a signature by another wallet is bad-signature', async (t) => {
  const { message } = await signedLogin(api.base, randomWallet());
  assertError(t, await verify(api, message, await randomWallet().signMessage(message)), 401, 'bad-signature');
});

test('a signature over a different message is bad-signature', async (t) => {
  const wallet = randomWallet();
  const { message } = await signedLogin(api.base, wallet);
  assertError(t, await verify(api, message, await wallet.signMessage(`${message} `)), 401, 'bad-signature');
});

test('a malformed signature is 400 malformed-signature', async (t) => {
  const { message, signature } = await signedLogin(api.base, randomWallet());
  for (const bad of ['0x1234', 'hello', signature.slice(2), `${signature}00`, `0x${'g'.repeat(130)}`, ` ${signature}`]) {
    assertError(t, await verify(api, message, bad), 400, 'malformed-signature');
  }
});

function notAllLowercaseWallet(): Wallet {
  for (;;) {
    const w = randomWallet();
    if (w.address !== w.address.toLowerCase()) return w;
  }
}

test('an all-lowercase address in the message is 400 address-not-checksummed', async (t) => {
  const wallet = notAllLowercaseWallet();
  const nonce = await freshNonce(api);
  const lines = buildMessage(wallet, fields(nonce)).split('\n');
  t.is(lines[1], wallet.address);
  lines[1] = wallet.address.toLowerCase();
  const message = lines.join('\n');
  assertError(t, await verify(api, message, await wallet.signMessage(message)), 400, 'address-not-checksummed');

  // The same nonce still signs in with the checksummed message.
  const good = buildMessage(wallet, fields(nonce));
  t.is((await verify(api, good, await wallet.signMessage(good))).status, 200);
});

test('an address with a wrong checksum is 400 address-not-checksummed', async (t) => {
  const wallet = notAllLowercaseWallet();
  const lines = buildMessage(wallet, fields(await freshNonce(api))).split('\n');
  const hex = wallet.address.slice(2);
  const i = hex.search(/[a-fA-F]/);
  const flipped = hex.slice(0, i) + (hex[i] === hex[i]!.toUpperCase() ? hex[i]!.toLowerCase() : hex[i]!.toUpperCase()) + hex.slice(i + 1);
  lines[1] = `0x${flipped}`;
  const message = lines.join('\n');
  assertError(t, await verify(api, message, await wallet.signMessage(message)), 400, 'address-not-checksummed');
});

test('a malformed address or a non-SIWE text is 400 malformed-message', async (t) => {
  const wallet = randomWallet();
  const lines = buildMessage(wallet, fields(await freshNonce(api))).split('\n');
  lines[1] = '0x1234';
  const shortAddress = lines.join('\n');
  assertError(t, await verify(api, shortAddress, await wallet.signMessage(shortAddress)), 400, 'malformed-message');
  const text = 'Please sign in to Tapstack. Nonce: 12345678';
  assertError(t, await verify(api, text, await wallet.signMessage(text)), 400, 'malformed-message');
  const truncated = buildMessage(wallet, fields(await freshNonce(api))).split('\n').slice(0, 4).join('\n');
  assertError(t, await verify(api, truncated, await wallet.signMessage(truncated)), 400, 'malformed-message');
});

// ---------------------------------------------------------------------------------------------
// Garbage bodies: always a clear 4xx with a code

test('a body that is not JSON is 400 invalid-json', async (t) => {
  for (const body of ['not json{', '{"message":', '\u0000', 'null', '"a string"', '123', 'true']) {
    const r = await post(api.base, '/api/auth/verify', body);
    assertError(t, r, 400, 'invalid-json');
  }
});

test('JSON of the wrong shape is 400 invalid-body', async (t) => {
  const bodies: unknown[] = [
    [],
    [{ message: 'm', signature: 's' }],
    {},
    { message: 'x' },
    { signature: '0x00' },
    { message: 1, signature: true },
    { message: null, signature: null },
    { message: ['a'], signature: { s: 1 } },
    { message: '', signature: '' },
    { message: 'x'.repeat(4097), signature: '0x00' },
  ];
  for (const body of bodies) {
    const r = await post(api.base, '/api/auth/verify', body);
    assertError(t, r, 400, 'invalid-body');
    t.true(Array.isArray(r.body.error.details?.issues), JSON.stringify(r.body));
  }
});

test('a 20 KB body is refused as body-too-large', async (t) => {
  const r = await post(api.base, '/api/auth/verify', { message: 'a'.repeat(20_000), signature: '0x00' });
  assertError(t, r, 413, 'body-too-large');
  const nonce = await post(api.base, '/api/auth/nonce', { pad: 'a'.repeat(20_000) });
  assertError(t, nonce, 413, 'body-too-large');
});

test('a body with a non-JSON content type is a clear 4xx, never a sign-in', async (t) => {
  const { message, signature } = await signedLogin(api.base, randomWallet());
  const json = JSON.stringify({ message, signature });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
    const r = await post(api.base, '/api/auth/verify', json, { 'content-type': type });
    assertError(t, r, 415, 'unsupported-media-type');
  }
  // The nonce was not consumed by those attempts.
  t.is((await verify(api, message, signature)).status, 200);
});

test('garbage bodies to /api/auth/nonce are a 4xx or ignored, never 5xx', async (t) => {
  assertError(t, await post(api.base, '/api/auth/nonce', 'not json{'), 400, 'invalid-json');
  for (const body of [[], { x: 1 }, '']) {
    const r = await post(api.base, '/api/auth/nonce', body);
    t.is(r.status, 200, JSON.stringify(r.body));
  }
  const bare = await fetch(`${api.base}/api/auth/nonce`, { method: 'POST' });
  t.is(bare.status, 200);
});

// ---------------------------------------------------------------------------------------------
// Demo mode

/** An API in demo mode with its writer (the writer commits the grant). */
async function demoApi(t: ExecutionContext): Promise<TestApi> {
  const demo = await extraApi({ TAPSTACK_DEMO_MODE: 'true', TAPSTACK_DEMO_GRANT: '50', TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '1000' });
  const writer = await startWriterFor(demo, redis, { TAPSTACK_DEMO_MODE: 'true', TAPSTACK_DEMO_GRANT: '50' });
  t.teardown(() => writer.stop());
  return demo;
}

test('demo mode grants the starting balance once, with exactly one ledger row', async (t) => {
  const demo = await demoApi(t);
  const wallet = randomWallet();
  const first = await tryLogin(demo, wallet);
  t.is(first.status, 200, JSON.stringify(first.body));
  t.is(first.body.balance, 5000);
  const ledgerRows = () =>
    demo.db.raw.prepare('SELECT kind, amount, balance_after AS balanceAfter, ref FROM ledger WHERE address = ?').all(wallet.address);
  t.deepEqual(ledgerRows(), [{ kind: 'demo-grant', amount: 5000, balanceAfter: 5000, ref: `demo:${wallet.address}` }]);

  const second = await tryLogin(demo, wallet);
  t.is(second.status, 200, JSON.stringify(second.body));
  t.is(second.body.balance, 5000);
  t.is(ledgerRows().length, 1);
  const me = await get(demo.base, '/api/me', bearer(second.body.token));
  t.is(me.body.balance, 5000);
});

test('concurrent first sign-ins of one wallet in demo mode grant once', async (t) => {
  const demo = await demoApi(t);
  const wallet = randomWallet();
  const logins = await Promise.all(Array.from({ length: 5 }, () => signedLogin(demo.base, wallet)));
  const results = await Promise.all(logins.map((l) => verify(demo, l.message, l.signature)));
  for (const r of results) {
    t.is(r.status, 200, JSON.stringify(r.body));
    t.is(r.body.balance, 5000);
  }
  const rows = demo.db.raw.prepare("SELECT COUNT(*) AS n FROM ledger WHERE address = ? AND kind = 'demo-grant'").get(wallet.address) as { n: number };
  t.is(rows.n, 1);
});

test('without demo mode a first sign-in writes no ledger row', async (t) => {
  const wallet = randomWallet();
  t.is((await tryLogin(api, wallet)).status, 200);
  const n = api.db.raw.prepare('SELECT COUNT(*) AS n FROM ledger WHERE address = ?').get(wallet.address) as { n: number };
  t.is(n.n, 0);
});

// ---------------------------------------------------------------------------------------------
// Rate limits (own API each, so the counters start at zero)

test('the per-IP limit answers 429 rate-limited with Retry-After, per client IP', async (t) => {
  const limited = await extraApi({ TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '3' });
  for (let i = 0; i < 3; i += 1) t.is((await post(limited.base, '/api/auth/nonce', {})).status, 200);
  const refused = await post(limited.base, '/api/auth/nonce', {});
  assertError(t, refused, 429, 'rate-limited');
  const retryAfter = Number(refused.headers.get('retry-after'));
  t.true(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused.headers.get('retry-after')}`);
  // verify counts against the same IP budget
  assertError(t, await verify(limited, 'x', '0x00'), 429, 'rate-limited');

  // Behind the one trusted proxy hop, the client is the last X-Forwarded-For entry.
  t.is((await post(limited.base, '/api/auth/nonce', {}, { 'X-Forwarded-For': '10.0.0.2' })).status, 200);
  // A client cannot escape its limit by prepending a forged hop: only the last one counts.
  for (let i = 0; i < 3; i += 1) t.is((await post(limited.base, '/api/auth/nonce', {}, { 'X-Forwarded-For': '10.0.0.3' })).status, 200);
  assertError(t, await post(limited.base, '/api/auth/nonce', {}, { 'X-Forwarded-For': '1.2.3.4, 10.0.0.3' }), 429, 'rate-limited');
});

test('the per-address limit applies across client IPs', async (t) => {
  const limited = await extraApi({ TAPSTACK_AUTH_RATE_ADDRESS_PER_MINUTE: '2', TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '1000' });
  const wallet = randomWallet();
  const from = (ip: string) => ({ 'X-Forwarded-For': ip });
  t.is((await tryLogin(limited, wallet, {}, from('10.1.0.1'))).status, 200);
  t.is((await tryLogin(limited, wallet, {}, from('10.1.0.2'))).status, 200);
  const third = await tryLogin(limited, wallet, {}, from('10.1.0.3'));
  assertError(t, third, 429, 'rate-limited');
  t.truthy(third.headers.get('retry-after'));
  // Another wallet from the same IP is unaffected.
  t.is((await tryLogin(limited, randomWallet(), {}, from('10.1.0.3'))).status, 200);
});

// ---------------------------------------------------------------------------------------------
// Cookie-authenticated state changes, health, metrics, routing

test('a cookie-authenticated logout from our own origin or with no Origin is fine', async (t) => {
  const a = await signIn(api.base, randomWallet());
  t.is((await post(api.base, '/api/auth/logout', {}, { ...cookieHeader(a), Origin: ORIGIN })).status, 204);
  const b = await signIn(api.base, randomWallet());
  t.is((await post(api.base, '/api/auth/logout', {}, cookieHeader(b))).status, 204);
  assertError(t, await get(api.base, '/api/me', cookieHeader(b)), 401, 'session-expired');
});

test('/healthz and /readyz answer 200 with every readiness check ok', async (t) => {
  const h = await get(api.base, '/healthz');
  t.is(h.status, 200);
  t.deepEqual(h.body, { status: 'ok' });
  const r = await get(api.base, '/readyz');
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(r.body.status, 'ready');
  for (const c of ['sqlite', 'redis', 'migrations']) t.true(r.body.checks[c]?.ok, `${c}: ${JSON.stringify(r.body.checks[c])}`);
});

test('/metrics exposes sign-in outcomes by code', async (t) => {
  await signIn(api.base, randomWallet());
  await verify(api, 'garbage', '0x00');
  const m = await get(api.base, '/metrics');
  t.is(m.status, 200);
  t.true(String(m.headers.get('content-type')).startsWith('text/plain'));
  t.true(m.body.includes('tapstack_auth_attempts_total'));
  t.regex(m.body, /tapstack_auth_attempts_total\{[^}]*outcome="ok"[^}]*\} [1-9]/);
  t.regex(m.body, /tapstack_auth_attempts_total\{[^}]*outcome="malformed-signature"[^}]*\} [1-9]/);
});

test('an unknown route is 404 not-found', async (t) => {
  assertError(t, await get(api.base, '/nope'), 404, 'not-found');
  assertError(t, await get(api.base, '/api/auth'), 404, 'not-found');
  assertError(t, await post(api.base, '/api/auth/unknown', {}), 404, 'not-found');
});

test('a wrong method on a known route is 405 method-not-allowed', async (t) => {
  const r = await get(api.base, '/api/auth/verify');
  assertError(t, r, 405, 'method-not-allowed');
  t.is(r.headers.get('allow'), 'POST');
  assertError(t, await get(api.base, '/api/auth/nonce'), 405, 'method-not-allowed');
  assertError(t, await post(api.base, '/api/me', {}), 405, 'method-not-allowed');
  assertError(t, await post(api.base, '/healthz', {}), 405, 'method-not-allowed');
});

// ---------------------------------------------------------------------------------------------
// Redis outage: its own redis-server, so the tests above are not disturbed

test('with Redis down the API reports not-ready and fails sign-in cleanly, then recovers', async (t) => {
  const ownRedis = await startRedis();
  const a = await startApi(ownRedis, { TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '1000' });
  try {
    const wallet = randomWallet();
    const token = await signIn(a.base, wallet);
    const pending = await signedLogin(a.base, wallet);

    await ownRedis.kill();
    const notReady = await get(a.base, '/readyz');
    t.is(notReady.status, 503, JSON.stringify(notReady.body));
    t.is(notReady.body.status, 'not-ready');
    t.false(notReady.body.checks.redis.ok);
    t.true(notReady.body.checks.sqlite.ok);

    // Concurrently: each waits for the Redis client to give up (a few seconds of reconnect backoff).
    const outage = await Promise.all([
      post(a.base, '/api/auth/nonce', {}),
      verify(a, pending.message, pending.signature),
      get(a.base, '/api/me', bearer(token)),
      get(a.base, '/api/me', cookieHeader(token)),
    ]);
    for (const res of outage) {
      t.true(res.status === 500 || res.status === 503, `status ${res.status} ${JSON.stringify(res.body)}`);
      assertCleanError(t, res);
    }

    await ownRedis.restart();
    await waitFor(async () => (await get(a.base, '/readyz')).status === 200, 'readyz after redis restart');
    t.is((await post(a.base, '/api/auth/nonce', {})).status, 200);
    const again = await signIn(a.base, wallet);
    t.is((await get(a.base, '/api/me', bearer(again))).status, 200);
  } finally {
    await a.stop();
    await ownRedis.stop();
  }
});
