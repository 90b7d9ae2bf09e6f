/**
 * Bet placement through the real API (in-process), the real Lua reservation in a real Redis, and the
 * real writer process committing into a real SQLite file.
 */
import test from 'ava';
import { Wallet } from 'ethers';
import { decodePlayerEvents, encodeCommand, payoutOf } from '../../services/shared/betting/commands.js';
import { betKeys, channels, fullKeyName, WRITER_STREAM } from '../../services/shared/redis-names.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { createLogger } from '../../services/shared/logger.js';
import { getBet } from '../../services/shared/repos/bets.repo.js';
import { queryLedger } from '../../services/shared/repos/ledger.repo.js';
import { findUser } from '../../services/shared/repos/users.repo.js';
import { creditBehindTheWriter, get, post, startApi, type TestApi } from '../helpers/api.js';
import { testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess, type Proc } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { closeBreaker, openBreaker, publishTestQuote, tappableCell } from '../helpers/market-fixture.js';
import { signIn } from '../helpers/wallet.js';
import { runCli } from '../helpers/cli.js';

let redis: TestRedis;
let api: TestApi;
let writer: Proc;
let sub: Redis;
const events: { address: string; event: string; data: any }[] = [];

const EXTRA = {
  TAPSTACK_BREAKER_STALE_SECONDS: '3600',
  TAPSTACK_GRID_COLUMN_SECONDS: '10',
  TAPSTACK_GRID_COLUMNS: '8',
  TAPSTACK_BET_RATE_PER_SECOND: '100000',
  TAPSTACK_STAKE_MIN: '0.10',
  TAPSTACK_STAKE_MAX: '100',
};

test.before(async () => {
  redis = await startRedis();
  api = await startApi(redis, EXTRA);
  await closeBreaker(api.redis, api.config);
  const writerPort = await freePort();
  const env = testEnv({ dataDir: api.dataDir, redis, extra: { ...EXTRA, TAPSTACK_REDIS_PREFIX: api.config.redis.prefix, TAPSTACK_WRITER_PORT: String(writerPort), TAPSTACK_LOG_LEVEL: 'warn' } });
  writer = startProcess('services/writer/main.js', env);
  // Taps need the writer (it fills the balance cache): wait until it is ready, however busy the machine.
  await waitFor(async () => (await fetch(`http://127.0.0.1:${writerPort}/readyz`)).status === 200, 'writer ready', 60_000);
  sub = createRedis(api.config, createLogger({ service: 't', level: 'silent' }), 'sub');
  sub.on('message', (_c: string, m: string) => events.push(...(decodePlayerEvents(m) as typeof events)));
  await sub.subscribe(channels(api.config.redis.prefix).userEvents);
});

test.after.always(async () => {
  sub?.disconnect();
  await writer?.stop();
  await api?.stop();
  await redis?.stop();
});

async function player(funds: number) {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const token = await signIn(api.base, wallet);
  if (funds > 0) await creditBehindTheWriter(api, wallet.address, funds, `fund-${wallet.address}`);
  return { address: wallet.address, auth: { authorization: `Bearer ${token}` } };
}

const committed = (id: string) => waitFor(() => {
  const b = getBet(api.db, id);
  return b && b.state !== undefined && b;
}, `bet ${id} committed`);

test.serial('a tap is accepted with 202, committed by the writer, confirmed, and visible', async (t) => {
  const p = await player(10_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const r = await post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: 250 }, p.auth);
  t.is(r.status, 202, JSON.stringify(r.body));
  t.like(r.body.bet, { state: 'pending', stake: 250, multiplierCents: cell.multiplierCents, lowCents: cell.lowCents, startMs: cell.startMs });
  t.is(r.body.available, 9_750);
  const row = await committed(r.body.bet.id);
  t.is(row.state, 'open');
  t.is(findUser(api.db, p.address)?.balance, 9_750);
  t.deepEqual(queryLedger(api.db, { ref: `bet:${row.id}:stake`, limit: 1 }).map((e) => [e.kind, e.amount]), [['bet-stake', -250]]);
  const seen = await waitFor(() => events.find((e) => e.event === 'bet:confirmed' && e.data.id === row.id), 'bet:confirmed event');
  t.is(seen.address, p.address);
  const got = await get(api.base, `/api/bets/${row.id}`, p.auth);
  t.like(got.body.bet, { id: row.id, state: 'open' });
  const mine = await get(api.base, '/api/me/bets', p.auth);
  t.deepEqual(mine.body.bets.map((b: any) => b.id), [row.id]);
  const me = await get(api.base, '/api/me', p.auth);
  t.like(me.body, { balance: 9_750, available: 9_750 });
  // Another player cannot see it.
  const other = await player(0);
  t.is((await get(api.base, `/api/bets/${row.id}`, other.auth)).status, 404);
  t.true(checkIntegrity(api.db).ok);
});

test.serial('1,000 concurrent taps on a balance that covers exactly 10: exactly 10 accepted, balance 0', async (t) => {
  const p = await player(1_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  // Warm the cache so every tap races on the reservation itself: a valid stake above the balance
  // goes through the reservation (which asks the writer to load the balance) and is refused for
  // funds; then wait for the loaded balance, however slow the writer is on a busy machine.
  const warm = await post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: 2_000 }, p.auth);
  t.true(warm.status === 409 || warm.status === 503, JSON.stringify(warm.body));
  await waitFor(async () => (await api.redis.get(betKeys.balance(p.address))) === '1000', 'balance cache loaded');
  // 100 clients in flight at once, 1,000 taps in all: the reservations race just the same, and a
  // busy machine's accept queue does not drop a thousand simultaneous connects ("fetch failed").
  const results: Awaited<ReturnType<typeof post>>[] = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (sent < 1000) {
        sent += 1;
        results.push(await post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: 100 }, p.auth));
      }
    }),
  );
  t.is(results.length, 1000);
  const accepted = results.filter((r) => r.status === 202);
  const answers: Record<string, number> = {};
  for (const r of results) {
    const answer = `${r.status} ${r.body?.error?.code ?? ''}`;
    answers[answer] = (answers[answer] ?? 0) + 1;
  }
  t.is(accepted.length, 10, `answers: ${JSON.stringify(answers)}`);
  t.true(results.filter((r) => r.status !== 202).every((r) => r.status === 409 && r.body.error.code === 'insufficient-funds'));
  await Promise.all(accepted.map((r) => committed(r.body.bet.id)));
  t.is(findUser(api.db, p.address)?.balance, 0);
  t.is(queryLedger(api.db, { address: p.address, kind: 'bet-stake', limit: 100 }).length, 10);
  t.is(Number(await api.redis.get(betKeys.balance(p.address))), 0);
  await waitFor(async () => (await api.redis.get(betKeys.pending(p.address))) === null, 'pending stakes drained');
  t.true(checkIntegrity(api.db).ok);
});

test.serial('an Idempotency-Key replay returns the same bet, before and after commit, and moves money once', async (t) => {
  const p = await player(5_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const headers = { ...p.auth, 'idempotency-key': 'tap-0001-abcdef' };
  const body = { quoteId: q.id, row: cell.row, col: cell.col, stake: 1_000 };
  const [a, b] = await Promise.all([post(api.base, '/api/bets', body, headers), post(api.base, '/api/bets', body, headers)]);
  t.is(a.status, 202);
  t.is(b.status, 202);
  t.is(a.body.bet.id, b.body.bet.id);
  await committed(a.body.bet.id);
  const c = await post(api.base, '/api/bets', body, headers);
  t.is(c.status, 202);
  t.is(c.headers.get('idempotent-replayed'), 'true');
  t.like(c.body.bet, { id: a.body.bet.id, state: 'open' });
  t.is(findUser(api.db, p.address)?.balance, 4_000);
  const bad = await post(api.base, '/api/bets', body, { ...p.auth, 'idempotency-key': 'x' });
  t.is(bad.body.error.code, 'invalid-idempotency-key');
});

test.serial('each refusal has its own clear code and moves nothing', async (t) => {
  const p = await player(1_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const tap = (over: Record<string, unknown>, headers = p.auth) => post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: 100, ...over }, headers);
  const code = async (over: Record<string, unknown>) => (await tap(over)).body.error?.code;

  t.is(await code({ stake: 5 }), 'stake-out-of-limits');
  t.is(await code({ stake: 100_01 }), 'stake-out-of-limits');
  t.is(await code({ stake: 1.5 }), 'invalid-body');
  t.is(await code({ quoteId: 'q999999999' }), 'quote-unknown');
  t.is(await code({ row: 999 }), 'cell-unknown');
  const expired = await publishTestQuote(api.redis, api.config, { expiresAt: Date.now() - 1 });
  t.is(await code({ quoteId: expired.id }), 'quote-expired');
  const locked = q.cells.find((c) => !c.disabled && c.startMs - Date.now() < api.config.grid.lockSeconds * 1000);
  if (locked) t.is(await code({ row: locked.row, col: locked.col }), 'cell-locked');
  const withDisabled = await publishTestQuote(api.redis, api.config);
  const dc = tappableCell(withDisabled, api.config.grid.lockSeconds);
  withDisabled.cells = withDisabled.cells.map((c) => (c === dc ? { ...c, disabled: true, reason: 'player-edge' } : c));
  const { publishQuote } = await import('../../services/shared/market/quote-store.js');
  await publishQuote(api.redis, withDisabled, { keepMs: 60_000, channel: 'unused' });
  t.is(await code({ quoteId: withDisabled.id, row: dc.row, col: dc.col }), 'cell-disabled');
  const halted = await publishTestQuote(api.redis, api.config, { halted: true });
  t.is(await code({ quoteId: halted.id }), 'breaker-open');
  t.is(await code({ stake: 5_000 }), 'insufficient-funds');
  t.is((await tap({}, {} as any)).body.error.code, 'not-signed-in');

  await openBreaker(api.redis);
  const open = await tap({});
  t.is(open.status, 503);
  t.is(open.body.error.code, 'breaker-open');
  await closeBreaker(api.redis, api.config);

  t.is(findUser(api.db, p.address)?.balance, 1_000);
  t.is(Number(await api.redis.get(betKeys.balance(p.address))), 1_000);
});

test.serial('settlements go through the writer once: payout on a win, refund on a void, nothing on a loss', async (t) => {
  const p = await player(3_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const ids: string[] = [];
  for (let i = 0; i < 3; i += 1) {
    const r = await post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake: 1_000 }, p.auth);
    t.is(r.status, 202);
    ids.push(r.body.bet.id);
  }
  await Promise.all(ids.map(committed));
  t.is(findUser(api.db, p.address)?.balance, 0);
  const settle = (id: string, outcome: string) => api.redis.xadd(WRITER_STREAM, '*', 'c', encodeCommand({ t: 'settle', id, outcome: outcome as any, reason: 'test', decidedAt: Date.now() }));
  await settle(ids[0]!, 'won');
  await settle(ids[0]!, 'won'); // a repeat changes nothing
  await settle(ids[1]!, 'void');
  await settle(ids[2]!, 'lost');
  await waitFor(() => ids.every((id) => getBet(api.db, id)?.state !== 'open'), 'settled');
  const win = Math.floor((1_000 * cell.multiplierCents) / 100);
  t.like(getBet(api.db, ids[0]!), { state: 'won', payout: win });
  t.like(getBet(api.db, ids[1]!), { state: 'void', payout: 1_000 });
  t.like(getBet(api.db, ids[2]!), { state: 'lost', payout: 0 });
  t.is(findUser(api.db, p.address)?.balance, win + 1_000);
  await waitFor(async () => Number(await api.redis.get(betKeys.balance(p.address))) === win + 1_000, 'cache credited');
  t.is(queryLedger(api.db, { address: p.address, kind: 'bet-payout', limit: 10 }).length, 1);
  t.is(queryLedger(api.db, { address: p.address, kind: 'bet-refund', limit: 10 }).length, 1);
  await waitFor(() => events.filter((e) => e.event === 'bet:settled' && ids.includes(e.data.id)).length >= 3, 'bet:settled events');
  t.true(checkIntegrity(api.db).ok);
});

test.serial('liability caps per cell and per column refuse further taps', async (t) => {
  const capped = await startApi(redis, { ...EXTRA, TAPSTACK_REDIS_PREFIX: api.config.redis.prefix, TAPSTACK_DATA_DIR: api.dataDir, TAPSTACK_CELL_LIABILITY_CAP: '30', TAPSTACK_COLUMN_LIABILITY_CAP: '50' });
  t.teardown(() => capped.stop());
  const p = await player(100_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  // Earlier tests tapped the same windows: start this column's liabilities from zero.
  const stale = await api.redis.keys(fullKeyName(api.redis, betKeys.cellLiability(cell.startMs, '*')));
  await api.redis.del(betKeys.columnLiability(cell.startMs), ...stale.map((k) => k.slice(api.config.redis.prefix.length)));
  const stake = Math.floor(1_000 * 100 / cell.multiplierCents); // potential payout ≈ 10.00
  const tap = (c: { row: number; col: number }) => post(capped.base, '/api/bets', { quoteId: q.id, row: c.row, col: c.col, stake }, p.auth);
  const codes: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const r = await tap(cell);
    codes.push(r.status === 202 ? 'ok' : r.body.error.code);
  }
  t.deepEqual(codes, ['ok', 'ok', 'ok', 'cell-liability-cap']);
  const neighbours = q.cells.filter((c) => c.col === cell.col && c.row !== cell.row && !c.disabled && c.multiplierCents >= 150);
  const more: string[] = [];
  for (const c of neighbours.slice(0, 3)) {
    const s = Math.floor(1_000 * 100 / c.multiplierCents);
    const r = await post(capped.base, '/api/bets', { quoteId: q.id, row: c.row, col: c.col, stake: s }, p.auth);
    more.push(r.status === 202 ? 'ok' : r.body.error.code);
  }
  t.true(more.includes('column-liability-cap'), more.join(','));

  // A refusal takes back what the script added: the counters hold the accepted payouts only, each
  // cap key carries its TTL, and a fresh cell refused at the column cap leaves no key behind.
  const liability = async (key: string) => ({ value: Number((await api.redis.get(key)) ?? 0), pttl: await api.redis.pttl(key) });
  const tapped = await liability(betKeys.cellLiability(cell.startMs, cell.lowCents));
  t.is(tapped.value, 3 * payoutOf(stake, cell.multiplierCents));
  t.true(tapped.pttl > 0, `cell key TTL ${tapped.pttl}`);
  let columnSum = tapped.value;
  for (const [i, c] of neighbours.slice(0, 3).entries()) {
    const own = await liability(betKeys.cellLiability(c.startMs, c.lowCents));
    const paid = payoutOf(Math.floor(1_000 * 100 / c.multiplierCents), c.multiplierCents);
    if (more[i] === 'ok') {
      t.is(own.value, paid);
      t.true(own.pttl > 0);
      columnSum += paid;
    } else t.is(own.pttl, -2, `refused cell ${c.row}:${c.col} left a key`);
  }
  const column = await liability(betKeys.columnLiability(cell.startMs));
  t.is(column.value, columnSum);
  t.true(column.pttl > 0);
});

test.serial('an operator credit or debit through the CLI reaches the tap balance at once', async (t) => {
  const p = await player(1_000);
  const q = await publishTestQuote(api.redis, api.config);
  const cell = tappableCell(q, api.config.grid.lockSeconds);
  const tap = (stake: number) => post(api.base, '/api/bets', { quoteId: q.id, row: cell.row, col: cell.col, stake }, p.auth);
  t.is((await tap(100)).status, 202); // cache loaded: 900 available
  const env = testEnv({ dataDir: api.dataDir, redis, extra: { TAPSTACK_REDIS_PREFIX: api.config.redis.prefix } });
  const credit = await runCli(['account', 'credit', p.address, '50', '--ref', `top-up-${p.address}`], env);
  t.is(credit.code, 0, credit.stderr);
  t.is(credit.stderr, '');
  const big = await tap(5_000);
  t.is(big.status, 202, JSON.stringify(big.body));
  const debit = await runCli(['account', 'debit', p.address, '5', '--ref', `wd-${p.address}`], env);
  t.is(debit.code, 0, debit.stderr);
  await waitFor(() => findUser(api.db, p.address)?.balance === 1_000 - 100 + 5_000 - 5_000 - 500 || undefined, 'writer caught up');
  const me = await waitFor(async () => {
    const r = await get(api.base, '/api/me', p.auth);
    return r.body.available !== null && r.body;
  }, 'available reloaded');
  t.is(me.balance, 400);
  t.true(checkIntegrity(api.db).ok);
});
