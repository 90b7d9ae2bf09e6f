/**
 * Sign-In with Ethereum against the real API: the message checks (nonce, domain, origin, chain,
 * times, signature, address, body). A real redis-server, a real SQLite file, real EIP-191
 * signatures from random ethers wallets. Assertions are on HTTP status and `error.code`.
 * Sessions, demo grants, limits and outages: auth-sessions.test.ts.
 */
import test from 'ava';
import { Wallet } from 'ethers';
import { post, type TestApi } from '../helpers/api.js';
import { assertError, fields, freshNonce, ORIGIN, randomWallet, startAuthRig, tryLogin, verify } from '../helpers/auth-rig.js';
import { buildMessage, signedLogin } from '../helpers/wallet.js';

let rig: Awaited<ReturnType<typeof startAuthRig>>;
let api: TestApi;
const extraApi = (env: Record<string, string>) => rig.extraApi(env);

test.before(async () => {
  rig = await startAuthRig();
  ({ api } = rig);
});

test.after.always(async () => {
  await rig?.stop();
});

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

