/**
 * The API's access lines: successes are sampled (a line per tap was a fifth of its CPU), but every
 * refusal and every failure is logged, each with the request id the client got in X-Request-Id.
 */
import { Writable } from 'node:stream';
import test from 'ava';
import { Wallet } from 'ethers';
import { ACCESS_LOG_SAMPLE } from '../../services/api/middleware/errors.js';
import { createLogger } from '../../services/shared/logger.js';
import { createSessionStore } from '../../services/shared/sessions.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

interface Line {
  level: string;
  sampled?: number;
  msg: string;
  requestId?: string;
  status?: number;
  code?: string;
  path?: string;
  err?: { message?: string };
}

const lines: Line[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line);
    done();
  },
});

let redis: TestRedis;
let api: TestApi;

test.before(async () => {
  redis = await startRedis();
  api = await startApi(redis, {}, { log: createLogger({ service: 'api-test', level: 'info', destination: sink }) });
});

test.after.always(async () => {
  await api?.stop();
  await redis?.stop();
});

const linesFor = (requestId: string | null) => lines.filter((l) => l.requestId !== undefined && l.requestId === requestId);

test.serial('a refusal gets an info line with its request id and code', async (t) => {
  const res = await fetch(`${api.base}/api/bets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.is(res.status, 401);
  const id = res.headers.get('x-request-id');
  t.truthy(id);
  const mine = linesFor(id);
  t.is(mine.length, 1, JSON.stringify(mine));
  t.like(mine[0], { level: 'info', msg: 'request refused', status: 401, code: 'not-signed-in', path: '/api/bets' });
});

test.serial('a 5xx gets an error line with its request id, code and cause', async (t) => {
  const address = new Wallet(Wallet.createRandom().privateKey).address;
  const token = await createSessionStore(api.redis, api.config.session.ttlSeconds).create(address, Date.now());
  api.db.close(); // every SQLite read now throws: the route fails with an internal error
  const res = await fetch(`${api.base}/api/bets/b0abc`, { headers: { authorization: `Bearer ${token}` } });
  t.is(res.status, 500);
  t.deepEqual(await res.json(), { error: { code: 'internal', message: 'internal error' } });
  const mine = linesFor(res.headers.get('x-request-id'));
  t.is(mine.length, 1, JSON.stringify(mine));
  t.like(mine[0], { level: 'error', msg: 'request failed', status: 500, code: 'internal' });
  t.regex(mine[0]?.err?.message ?? '', /database connection is not open/);
});

test.serial('successes are sampled: one line in ACCESS_LOG_SAMPLE, with its request id', async (t) => {
  // Slow successes (a busy machine) are logged too, flagged `slow`: only the sampled ones count here.
  const sampledLines = () => lines.filter((l) => l.msg === 'request' && l.sampled === ACCESS_LOG_SAMPLE);
  const before = sampledLines().length;
  const ids = new Set<string>();
  // No success was answered before this test (the ones above are refusals): exactly one line.
  for (let i = 0; i < ACCESS_LOG_SAMPLE; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await fetch(`${api.base}/healthz`);
        t.is(res.status, 200);
        ids.add(res.headers.get('x-request-id') ?? '');
      }),
    );
  }
  const sampled = sampledLines().slice(before);
  t.is(sampled.length, 1, `${sampled.length} lines for ${ACCESS_LOG_SAMPLE} successes`);
  for (const l of sampled) t.true(ids.has(l.requestId ?? ''), 'the sampled line carries the request id of an answered request');
});
