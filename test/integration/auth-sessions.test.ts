/**
 * Sign-In with Ethereum against the real API: sessions and logout, the demo grant, the sign-in
 * limits, cookie-authenticated changes, health and routing, and a Redis outage. The message
 * checks: auth.test.ts.
 */
import test, { type ExecutionContext } from 'ava';
import { getAddress } from 'ethers';
import { get, post, startApi, startWriterFor, type TestApi } from '../helpers/api.js';
import { assertCleanError, assertError, bearer, COOKIE, cookieHeader, DOMAIN, ORIGIN, randomWallet, startAuthRig, tryLogin, verify } from '../helpers/auth-rig.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { signedLogin, signIn } from '../helpers/wallet.js';

let rig: Awaited<ReturnType<typeof startAuthRig>>;
let redis: TestRedis;
let api: TestApi;
const extraApi = (env: Record<string, string>) => rig.extraApi(env);

test.before(async () => {
  rig = await startAuthRig();
  ({ redis, api } = rig);
});

test.after.always(async () => {
  await rig?.stop();
});

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
