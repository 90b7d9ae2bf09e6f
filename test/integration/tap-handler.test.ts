/**
 * The direct tap handler (services/api/tap-handler.ts) answers POST /api/bets exactly as the Koa
 * route does: every case below is sent twice, once to `/api/bets` (the direct handler takes a
 * JSON tap with no query string) and once to `/api/bets?via=koa` (Koa's route), and the two
 * answers must agree in status, error code, details and the headers a client acts on.
 */
import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import test from 'ava';
import { Wallet } from 'ethers';
import { createTapHandler } from '../../services/api/tap-handler.js';
import { betKeys } from '../../services/shared/redis-names.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { closeBreaker, openBreaker, publishTestQuote, tappableCell } from '../helpers/market-fixture.js';
import { signIn } from '../helpers/wallet.js';

let redis: TestRedis;
let api: TestApi;
/** The API's log lines (startApi collects them). */
const logs: string[] = [];
const linesOf = (requestId: string | null) =>
  logs.map((l) => JSON.parse(l) as { level: string; msg: string; requestId?: string }).filter((l) => l.requestId !== undefined && l.requestId === requestId);

test.before(async () => {
  redis = await startRedis();
  api = await startApi(redis, { TAPSTACK_BET_RATE_PER_SECOND: '100000', TAPSTACK_STAKE_MIN: '0.10', TAPSTACK_STAKE_MAX: '100' }, { logs });
});

test.after.always(async () => {
  await api?.stop();
  await redis?.stop();
});

interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | null>;
}

async function send(path: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(api.base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await res.text();
  const pick = (h: string) => res.headers.get(h);
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    headers: { 'content-type': pick('content-type'), 'retry-after': pick('retry-after'), 'idempotent-replayed': pick('idempotent-replayed'), 'x-request-id': pick('x-request-id') },
  };
}

/** Both answers to the same request; the request id differs by design, everything else must not. */
async function bothWays(body: string | Buffer, headers: Record<string, string> = {}) {
  const direct = await send('/api/bets', body, headers);
  const koa = await send('/api/bets?via=koa', body, headers);
  for (const a of [direct, koa]) {
    if (!/^[0-9a-f-]{36}$/.test(a.headers['x-request-id'] ?? '')) throw new Error(`no request id: ${JSON.stringify(a)}`);
    a.headers['x-request-id'] = 'uuid';
  }
  return { direct, koa };
}

async function player(balance?: number) {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const token = await signIn(api.base, wallet);
  // The balance cache as the writer fills it (no writer runs here: nothing is committed).
  if (balance !== undefined) await api.redis.set(betKeys.balance(wallet.address), String(balance));
  return { address: wallet.address, token, bearer: { authorization: `Bearer ${token}` } };
}

test.serial('bad bodies, bad credentials and refused taps get the same answer from both paths', async (t) => {
  await closeBreaker(api.redis, api.config);
  const p = await player(1_000_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const tap = (over: Record<string, unknown> = {}) => JSON.stringify({ quoteId: q.id, row: cell.row, col: cell.col, stake: 50, ...over });
  const cookie = { cookie: `${api.config.session.cookieName}=${p.token}` };
  const cases: [string, string | Buffer, Record<string, string>, number, string][] = [
    ['not JSON', 'not json{', p.bearer, 400, 'invalid-json'],
    ['JSON null', 'null', p.bearer, 400, 'invalid-json'],
    ['a JSON number', '123', p.bearer, 400, 'invalid-json'],
    ['a poisoned prototype', '{"__proto__":{"x":1}}', p.bearer, 400, 'invalid-json'],
    ['a 20 KB body', JSON.stringify({ pad: 'a'.repeat(20_000) }), p.bearer, 413, 'body-too-large'],
    ['no credentials', tap(), {}, 401, 'not-signed-in'],
    ['a body that is not JSON, signed out (the body is read first)', '{', {}, 400, 'invalid-json'],
    ['a malformed Authorization', tap(), { authorization: 'Basic abc' }, 401, 'invalid-authorization'],
    ['an unknown token', tap(), { authorization: 'Bearer nope' }, 401, 'session-expired'],
    ['a cookie from a foreign origin', tap(), { ...cookie, origin: 'https://evil.test' }, 403, 'cross-origin'],
    ['the wrong shape', JSON.stringify({ quoteId: 'x', row: -1 }), p.bearer, 400, 'invalid-body'],
    ['an empty body', '', p.bearer, 400, 'invalid-body'],
    ['a bad Idempotency-Key', tap(), { ...p.bearer, 'idempotency-key': 'short' }, 400, 'invalid-idempotency-key'],
    ['a stake under the minimum', tap({ stake: 1 }), p.bearer, 400, 'stake-out-of-limits'],
    ['an unknown quote', tap({ quoteId: 'q999999999' }), p.bearer, 409, 'quote-unknown'],
    ['a cell the quote lacks', tap({ row: 999 }), p.bearer, 400, 'cell-unknown'],
  ];
  for (const [what, body, headers, status, code] of cases) {
    const { direct, koa } = await bothWays(body, headers);
    t.is(direct.status, status, `${what}: ${JSON.stringify(direct.body)}`);
    t.is(direct.body?.error?.code, code, what);
    t.deepEqual(direct, koa, what);
  }
});

test.serial('503s carry the same Retry-After from both paths: breaker open, balance not loaded', async (t) => {
  const p = await player(1_000_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const body = JSON.stringify({ quoteId: q.id, row: cell.row, col: cell.col, stake: 50 });
  await openBreaker(api.redis);
  const open = await bothWays(body, p.bearer);
  t.like(open.direct, { status: 503, body: { error: { code: 'breaker-open' } }, headers: { 'retry-after': '5' } });
  t.deepEqual(open.direct, open.koa);
  await closeBreaker(api.redis, api.config);
  const unloaded = await player(); // no balance cache and no writer to fill it
  const loading = await bothWays(body, unloaded.bearer);
  t.like(loading.direct, { status: 503, body: { error: { code: 'balance-loading' } }, headers: { 'retry-after': '1' } });
  t.deepEqual(loading.direct, loading.koa);
});

test.serial('an accepted tap and its replay: the same shape from both paths, a gzip body too, one reservation per key', async (t) => {
  await closeBreaker(api.redis, api.config);
  const p = await player(1_000_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const json = JSON.stringify({ quoteId: q.id, row: cell.row, col: cell.col, stake: 50 });
  const direct = await send('/api/bets', json, { ...p.bearer, 'idempotency-key': 'key-direct-1' });
  const koa = await send('/api/bets?via=koa', gzipSync(json), { ...p.bearer, 'idempotency-key': 'key-koa-0001', 'content-encoding': 'gzip' });
  const zipped = await send('/api/bets', gzipSync(json), { ...p.bearer, 'content-encoding': 'gzip' });
  for (const a of [direct, koa, zipped]) {
    t.is(a.status, 202, JSON.stringify(a.body));
    t.is(a.headers['content-type'], 'application/json; charset=utf-8');
    t.is(a.body.bet.state, 'pending');
    t.is(a.body.bet.stake, 50);
  }
  t.deepEqual(Object.keys(direct.body).sort(), Object.keys(koa.body).sort());
  t.deepEqual(Object.keys(direct.body.bet).sort(), Object.keys(koa.body.bet).sort());
  t.is(zipped.body.available, 1_000_000 - 150);
  // Each path replays the key the other one used: same bet, no second reservation.
  const replayOfDirect = await send('/api/bets?via=koa', json, { ...p.bearer, 'idempotency-key': 'key-direct-1' });
  const replayOfKoa = await send('/api/bets', json, { ...p.bearer, 'idempotency-key': 'key-koa-0001' });
  t.like(replayOfDirect, { status: 202, body: { bet: { id: direct.body.bet.id } }, headers: { 'idempotent-replayed': 'true' } });
  t.like(replayOfKoa, { status: 202, body: { bet: { id: koa.body.bet.id } }, headers: { 'idempotent-replayed': 'true' } });
  t.is(await api.redis.get(betKeys.balance(p.address)), String(1_000_000 - 150));
  // The sampled or refused lines name the bet; a refusal's line has the direct path's request id.
  const refused = await send('/api/bets', JSON.stringify({ quoteId: q.id, row: cell.row, col: cell.col, stake: 1 }), p.bearer);
  const mine = linesOf(refused.headers['x-request-id'] ?? null);
  t.is(mine.length, 1, JSON.stringify(mine));
  t.like(mine[0], { level: 'info', msg: 'request refused', status: 400, code: 'stake-out-of-limits', path: '/api/bets' });
});

test.serial('a 5xx on the direct path gets an error line with its request id (Redis stopped)', async (t) => {
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  // A fresh session token is not in the API's session cache: reading it needs Redis.
  const other = await player(1_000_000);
  await redis.stop();
  const r = await send('/api/bets', JSON.stringify({ quoteId: q.id, row: cell.row, col: cell.col, stake: 50 }), other.bearer);
  t.true(r.status >= 500, JSON.stringify(r));
  t.truthy(r.body?.error?.code);
  const mine = linesOf(r.headers['x-request-id'] ?? null);
  t.is(mine.length, 1, JSON.stringify(mine));
  t.like(mine[0], { level: 'error', msg: 'request failed', status: r.status, code: r.body.error.code, path: '/api/bets' });
});

test('the direct handler takes only a POST to /api/bets with an application/json body', (t) => {
  const handler = createTapHandler({ config: api.config, sessions: undefined as never, placement: undefined as never, access: undefined as never });
  const req = (method: string, url: string, type?: string) => ({ method, url, headers: type ? { 'content-type': type } : {} }) as unknown as IncomingMessage;
  t.true(handler.takes(req('POST', '/api/bets', 'application/json')));
  t.true(handler.takes(req('POST', '/api/bets', 'Application/JSON; charset=utf-8')));
  for (const r of [req('GET', '/api/bets', 'application/json'), req('POST', '/api/bets?x=1', 'application/json'), req('POST', '/api/bets/', 'application/json'), req('POST', '/api/bets', 'text/plain'), req('POST', '/api/bets', 'application/vnd.api+json'), req('POST', '/api/bets')]) {
    t.false(handler.takes(r), `${r.method} ${r.url} ${r.headers['content-type']}`);
  }
});
