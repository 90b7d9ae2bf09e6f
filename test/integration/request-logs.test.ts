/**
 * Log lines name what they concern: a tap's request line carries its request id and its bet id.
 * At info successes are sampled (api-access-log.test.ts); at debug every request has its line.
 */
import test from 'ava';
import { Wallet } from 'ethers';
import { creditBehindTheWriter, post, startApi, type TestApi } from '../helpers/api.js';
import { testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess, type Proc } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { closeBreaker, publishTestQuote, tappableCell } from '../helpers/market-fixture.js';
import { signIn } from '../helpers/wallet.js';

let redis: TestRedis;
let api: TestApi;
let writer: Proc;
const logs: string[] = [];

test.before(async () => {
  redis = await startRedis();
  const extra = { TAPSTACK_BREAKER_STALE_SECONDS: '3600', TAPSTACK_GRID_COLUMN_SECONDS: '10' };
  api = await startApi(redis, extra, { logs, logLevel: 'debug' });
  await closeBreaker(api.redis, api.config);
  // The writer loads balances into Redis (a tap before that is refused with balance-loading).
  const writerPort = await freePort();
  writer = startProcess('services/writer/main.js', testEnv({ dataDir: api.dataDir, redis, extra: { ...extra, TAPSTACK_REDIS_PREFIX: api.config.redis.prefix, TAPSTACK_WRITER_PORT: String(writerPort) } }));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${writerPort}/readyz`)).status === 200, 'writer ready', 60_000);
});

test.after.always(async () => {
  await writer?.stop();
  await api?.stop();
  await redis?.stop();
});

test('the log line of a tap names its request id and its bet id; a lookup names the bet too', async (t) => {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const auth = { authorization: `Bearer ${await signIn(api.base, wallet)}` };
  await creditBehindTheWriter(api, wallet.address, 10_000, `fund-${wallet.address}`);
  // Retried while the writer loads the balance, as a client does on 503 balance-loading.
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const r = await waitFor(async () => {
    const x = await post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: 100 }, auth);
    return x.status === 202 || x.body?.error?.code !== 'balance-loading' ? x : undefined;
  }, 'the tap past balance-loading');
  t.is(r.status, 202, JSON.stringify(r.body));
  const parsed = () => logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  const line = await waitFor(() => parsed().find((l) => l.msg === 'request' && l.betId === r.body.bet.id), 'the request line of the tap');
  t.like(line, { method: 'POST', path: '/api/bets', status: 202, service: 'api-test', level: 'debug' });
  t.regex(String(line.requestId), /^[0-9a-f-]{36}$/);
  await fetch(`${api.base}/api/bets/${r.body.bet.id}`, { headers: auth });
  const lookup = await waitFor(() => parsed().find((l) => l.msg === 'request' && l.method === 'GET' && l.betId === r.body.bet.id), 'the lookup line');
  t.not(lookup.requestId, line.requestId);
  // A tap refused at the reservation names the bet it would have been, at info.
  // 9,900 left after the first tap: the largest stake (10,000) is refused for funds.
  const refused = await post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: api.config.betting.stakeMax }, auth);
  t.is(refused.body?.error?.code, 'insufficient-funds', JSON.stringify(refused.body));
  const refusal = await waitFor(() => parsed().find((l) => l.msg === 'request refused' && l.code === refused.body.error.code && l.path === '/api/bets'), 'the refusal line');
  t.like(refusal, { level: 'info', status: 409 });
  t.regex(String(refusal.betId), /^b[0-9a-z]+$/);
  t.regex(String(refusal.requestId), /^[0-9a-f-]{36}$/);
});
