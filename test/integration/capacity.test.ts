/**
 * Capacity: Redis memory per bet does not grow with the number of bets (nothing per bet outlives
 * its commit except the Idempotency-Key, for its TTL), and at Redis's memory cap taps are refused
 * with coded 503s while the writer still commits, confirms and settles what it accepted.
 * Real Redis, the real API (in-process), the real writer process, a real SQLite file.
 */
import test, { type ExecutionContext } from 'ava';
import { Wallet } from 'ethers';
import { adminMovement } from '../../services/shared/accounts.js';
import { createQueue } from '../../services/shared/betting/queue.js';
import { decodePlayerEvents } from '../../services/shared/betting/commands.js';
import { betKeys, channels, WRITER_STREAM } from '../../services/shared/redis-names.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { getBet } from '../../services/shared/repos/bets.repo.js';
import { post, startApi, type TestApi } from '../helpers/api.js';
import { testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess, type Proc } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { closeBreaker, publishTestQuote, tappableCell } from '../helpers/market-fixture.js';
import { signIn } from '../helpers/wallet.js';

const EXTRA = {
  TAPSTACK_BREAKER_STALE_SECONDS: '3600',
  // Ten-minute windows and hour-long quotes: a burst slowed down by a busy machine never meets a
  // locked cell or an expired quote.
  TAPSTACK_GRID_COLUMN_SECONDS: '600',
  TAPSTACK_BET_RATE_PER_SECOND: '100000',
  TAPSTACK_STAKE_MIN: '0.01',
  // Idempotency-Keys live quote TTL (2 s) + 1 s, so a test can watch them go.
  TAPSTACK_IDEMPOTENCY_RETRY_SECONDS: '1',
  // Every sign-in comes from 127.0.0.1.
  TAPSTACK_AUTH_RATE_IP_PER_MINUTE: '100000',
};

interface Stack {
  redis: TestRedis;
  api: TestApi;
  writer: Proc;
  players: { address: string; auth: Record<string, string> }[];
}

async function stack(t: ExecutionContext, players: number): Promise<Stack> {
  const redis = await startRedis();
  const api = await startApi(redis, EXTRA);
  t.teardown(async () => {
    await writer?.stop();
    await api.stop();
    await redis.stop();
  });
  await closeBreaker(api.redis, api.config);
  const list = [];
  for (let i = 0; i < players; i++) {
    const wallet = new Wallet(Wallet.createRandom().privateKey);
    const token = await signIn(api.base, wallet);
    // Funded before the writer starts (the writer rebuilds the cache from SQLite when it does).
    adminMovement(api.db, { address: wallet.address, direction: 'credit', amount: 100_000_000, ref: `fund-${i}` }, Date.now());
    list.push({ address: wallet.address, auth: { authorization: `Bearer ${token}` } });
  }
  const writerPort = await freePort();
  const env = testEnv({ dataDir: api.dataDir, redis, extra: { ...EXTRA, TAPSTACK_REDIS_PREFIX: api.config.redis.prefix, TAPSTACK_WRITER_PORT: String(writerPort) } });
  const writer = startProcess('services/writer/main.js', env);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${writerPort}/readyz`)).status === 200, 'writer ready', 60_000);
  return { redis, api, writer, players: list };
}

/** Keys under this test's prefix, counted by their first segment (bal, pend, idem, betp, ...). */
async function keysByPrefix(s: Stack): Promise<Record<string, number>> {
  const prefix = s.api.config.redis.prefix;
  const raw = s.api.redis.duplicate({ keyPrefix: '' });
  try {
    const out: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const kind = k.slice(prefix.length).split(':')[0] as string;
        out[kind] = (out[kind] ?? 0) + 1;
      }
    } while (cursor !== '0');
    return out;
  } finally {
    raw.disconnect();
  }
}

const usedMemory = async (s: Stack) => Number(/^used_memory:(\d+)/m.exec(await s.api.redis.info('memory'))?.[1]);

/** `count` taps with Idempotency-Keys over the players, `concurrency` at a time. */
async function burst(s: Stack, count: number, concurrency: number, tag: string) {
  const q = await publishTestQuote(s.api.redis, s.api.config, { expiresAt: Date.now() + 3_600_000 });
  const cell = tappableCell(q, s.api.config.grid.lockSeconds);
  const statuses: Record<string, number> = {};
  const accepted: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const p = s.players[i % s.players.length] as Stack['players'][number];
        const r = await post(s.api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: 1 }, { ...p.auth, 'idempotency-key': `${tag}-${i}-xxxxxxxx` });
        const key = r.status === 202 ? '202' : `${r.status} ${r.body?.error?.code}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
        if (r.status === 202) accepted.push(r.body.bet.id);
      }
    }),
  );
  return { statuses, accepted };
}

/** Every accepted bet committed, every reservation resolved, nothing left queued. */
async function drained(s: Stack, ids: string[]) {
  await waitFor(() => ids.every((id) => getBet(s.api.db, id)), `${ids.length} bets committed`, 120_000);
  await waitFor(async () => {
    const pend = await Promise.all(s.players.map((p) => s.api.redis.get(betKeys.pending(p.address))));
    return pend.every((v) => v === null);
  }, 'every reservation resolved', 60_000);
}

test.serial('Redis memory reaches a plateau: nothing per bet outlives its commit but the Idempotency-Key, for its TTL', async (t) => {
  // A bound for a broken run only (waits inside are bounded themselves): a busy machine is slow.
  t.timeout(600_000);
  const s = await stack(t, 8);
  // Big enough rounds that what each round adds regardless of its size (a new quote, the liability
  // counters of its cell, which expire with their window) stays small per bet.
  const ROUND = 800;
  const after: number[] = [];
  for (let round = 0; round < 3; round++) {
    const b = await burst(s, ROUND, 16, `r${round}`);
    t.deepEqual(b.statuses, { '202': ROUND }, `round ${round}`);
    await drained(s, b.accepted);
    const keys = await keysByPrefix(s);
    t.is(keys.pendh ?? 0, 0, 'pending records retired at commit (the emptied hashes deleted)');
    t.true((keys.applied ?? 0) <= s.players.length, 'one bookkeeping watermark per account, not per bet');
    // The Idempotency-Keys go when their TTL (quote lifetime + retry window) ends.
    await waitFor(async () => ((await keysByPrefix(s)).idem ?? 0) === 0, 'idempotency keys expired', 60_000, 250);
    await waitFor(async () => (await s.api.redis.xlen(WRITER_STREAM)) < 200, 'queue trimmed', 30_000);
    after.push(await usedMemory(s));
    t.log(`round ${round}: ${ROUND} bets, used_memory ${after.at(-1)} B, keys ${JSON.stringify(await keysByPrefix(s))}`);
  }
  // Before the fix each bet left ~1.3 KB for up to a day; now rounds 2 and 3 end where round 1 did.
  const growthPerBet = ((after[2] as number) - (after[0] as number)) / (2 * ROUND);
  t.log(`growth after the first round: ${growthPerBet.toFixed(1)} B per bet`);
  t.true(growthPerBet < 64, `memory keeps growing: ${growthPerBet.toFixed(1)} B per bet`);
});

test.serial('at Redis maxmemory taps get capacity 503s, never 500s; accepted bets are still committed, confirmed and settled', async (t) => {
  // A bound for a broken run only (waits inside are bounded themselves): a busy machine is slow.
  t.timeout(600_000);
  const s = await stack(t, 6);
  const queue = createQueue(s.api.redis);
  const sub = s.api.redis.duplicate();
  t.teardown(() => sub.disconnect());
  const told = new Set<string>();
  sub.on('message', (_c: string, m: string) => {
    for (const e of decodePlayerEvents(m)) told.add(e.eventId);
  });
  await sub.subscribe(channels(s.api.config.redis.prefix).userEvents);
  // Lower the cap below what is in use while a burst runs.
  const lowered = (async () => {
    await waitFor(() => (s.api.db.raw.prepare('SELECT COUNT(*) AS n FROM bets').get() as { n: number }).n >= 300, '300 bets committed', 120_000);
    const used = await usedMemory(s);
    await s.api.redis.config('SET', 'maxmemory', String(used + 64 * 1024));
  })();
  const b = await burst(s, 3000, 24, 'cap');
  await lowered;
  t.log(`statuses ${JSON.stringify(b.statuses)}`);
  for (const k of Object.keys(b.statuses)) t.true(k === '202' || k === '503 capacity', `unexpected answer ${k}`);
  t.true((b.statuses['503 capacity'] ?? 0) > 0, 'some taps were refused for capacity');
  t.true(b.accepted.length > 0);
  // Still at the cap: the writer commits, acknowledges and trims everything it accepted.
  await drained(s, b.accepted);
  await waitFor(() => b.accepted.every((id) => told.has(`${id}:open`)), 'every accepted bet confirmed to its player');
  // The resolver's verdicts go in at the cap too (allow-oom), and the writer settles them.
  for (const id of b.accepted) await queue.enqueue({ t: 'settle', id, outcome: 'lost', reason: 'not-touched', decidedAt: Date.now() });
  await waitFor(() => b.accepted.every((id) => getBet(s.api.db, id)?.state === 'lost'), 'every accepted bet settled', 120_000);
  await waitFor(() => b.accepted.every((id) => told.has(`${id}:lost`)), 'every settlement told to its player');
  const keys = await keysByPrefix(s);
  t.is(keys.betp ?? 0, 0, 'nothing stuck pending');
  t.true(checkIntegrity(s.api.db).ok);
  await s.api.redis.config('SET', 'maxmemory', '0');
  // Once there is room again, taps are taken (after the API's next sample).
  await waitFor(async () => (await burst(s, 1, 1, `after-${Date.now()}`)).statuses['202'] === 1, 'taps taken again', 30_000, 500);
});
