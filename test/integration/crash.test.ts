/**
 * Crash safety with real processes: a burst of taps while the API, the writer or Redis dies
 * mid-burst and comes back. Afterwards every accepted (202) bet is in SQLite exactly once, the
 * books balance to the minor unit, the cache agrees with the books, and the integrity check passes.
 */
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { encodeCommand, payoutOf, type BetCommand } from '../../services/shared/betting/commands.js';
import { betKeys, DEAD_LETTERS, WRITER_GROUP, WRITER_STREAM } from '../../services/shared/redis-names.js';
import { createReserver } from '../../services/shared/betting/reserve.js';
import { openDb, type Db } from '../../services/shared/db/database.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { runCli } from '../helpers/cli.js';
import { startRig, warmBalances, type Rig } from '../helpers/crash-rig.js';
import { WAIT_SCALE, waitFor } from '../helpers/ports.js';
import { planTaps, runBurst, type BurstResult } from '../helpers/tap-burst.js';

const PLAYERS = 20;
const TAPS = 1_500;
const STAKES = [10, 20, 30, 40, 50]; // minor units; one player's 75 taps stake 2,250 in all
// Even players can pay for all their taps, odd ones for about a third: refusals are part of the mix.
const FUNDS = Array.from({ length: PLAYERS }, (_, i) => (i % 2 === 0 ? 5_000 : 800));
const CRASH_AFTER = 400; // 202s before the crash: about 40 % into the burst
// A request unanswered this long counts as a hang (an API blocked on a dead dependency, which would
// never answer). Scaled like every wait: a machine busy with other work answers slowly, not never.
const HANG_MS = 5_000 * WAIT_SCALE;
const OUTAGE_MS = 1_500;

type Crash = (rig: Rig, t: ExecutionContext) => Promise<void>;

async function scenario(t: ExecutionContext, tag: string, crash: Crash) {
  const rig = await startRig({ funds: FUNDS });
  t.teardown(() => rig.stop());
  t.teardown(() => {
    if (process.env.CRASH_TEST_LOGS) console.log(`--- ${tag} api\n${rig.output('api')}\n--- ${tag} writer\n${rig.output('writer')}`);
  });
  await warmBalances(rig);
  let crashing: Promise<void> | undefined;
  const burst = await runBurst({
    base: rig.apiBase,
    quoteId: rig.quote.id,
    players: rig.players,
    taps: planTaps({ count: TAPS, players: PLAYERS, cells: rig.cells.slice(0, 6), stakes: STAKES, tag }),
    concurrency: 50,
    hangMs: HANG_MS,
    deadlineMs: 40_000 * WAIT_SCALE,
    onAccepted: (n) => {
      if (n === CRASH_AFTER) crashing = crash(rig, t);
    },
  });
  t.truthy(crashing, 'the crash happened during the burst');
  await crashing;
  t.log(`${tag}: ${burst.attempts} requests, ${burst.accepted.length} accepted (${burst.accepted.filter((a) => a.replayed).length} as replays), refused ${JSON.stringify(burst.refused)}, 5xx seen ${JSON.stringify(burst.errors5xx)}, ambiguous ${burst.ambiguous}, max latency ${burst.maxLatencyMs} ms`);
  assertClientSide(t, burst);
  await drained(rig, burst.accepted.map((a) => a.betId));
  await assertBooks(t, rig, burst, tag);
  return burst;
}

/** What the players saw: definitive, well-formed answers, no hangs. */
function assertClientSide(t: ExecutionContext, burst: BurstResult) {
  t.deepEqual(burst.malformed, [], 'every refusal is {error: {code}} JSON');
  t.is(burst.hangs, 0, `no request took longer than ${HANG_MS} ms`);
  t.deepEqual(burst.givenUp.map((x) => x.index), [], 'every keyed tap got a definitive answer');
  t.true((burst.refused['409 insufficient-funds'] ?? 0) > 0, 'the poorer players ran out of funds');
  for (const k of Object.keys(burst.refused)) t.true(k === '409 insufficient-funds' || k.startsWith('5'), `unexpected refusal ${k}`);
}

/** Wait until the writer has committed every accepted bet and resolved every reservation. */
async function drained(rig: Rig, betIds: string[]) {
  const db = openDb(rig.config.dbFile, { readonly: true });
  let state = '';
  try {
    await waitFor(async () => {
      const ids = new Set(db.raw.prepare('SELECT id FROM bets').pluck().all() as string[]);
      const missing = betIds.filter((id) => !ids.has(id)).length;
      const [pending] = (await rig.client.xpending(WRITER_STREAM, WRITER_GROUP)) as [number];
      const pend = (await Promise.all(rig.players.map((p) => rig.client.get(betKeys.pending(p.address))))).map(Number);
      const stuck = pend.filter((v) => v !== 0);
      state = `${missing} accepted bets not in SQLite, ${pending} queue entries unacknowledged, ${stuck.length} players with stakes pending (${stuck.reduce((a, b) => a + b, 0)} in all)`;
      return missing === 0 && Number(pending) === 0 && stuck.length === 0;
    }, 'the writer to drain the queue', 15_000, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${state}`);
  } finally {
    db.close();
  }
}

async function assertBooks(t: ExecutionContext, rig: Rig, burst: BurstResult, tag: string) {
  const db: Db = openDb(rig.config.dbFile, { readonly: true });
  try {
    const ids = burst.accepted.map((a) => a.betId);
    t.is(new Set(ids).size, ids.length, 'no two taps were answered with the same bet');
    const bets = db.raw.prepare('SELECT id, address, stake, state FROM bets').all() as { id: string; address: string; stake: number; state: string }[];
    const byId = new Map(bets.map((b) => [b.id, b]));
    t.is(byId.size, bets.length);
    const stakeRef = new Map(
      (db.raw.prepare("SELECT ref, amount FROM ledger WHERE kind = 'bet-stake'").all() as { ref: string; amount: number }[]).map((r) => [r.ref, r.amount]),
    );
    for (const a of burst.accepted) {
      const b = byId.get(a.betId);
      if (!b) {
        t.fail(`accepted bet ${a.betId} is not in SQLite`);
        continue;
      }
      t.is(b.address, a.address);
      t.is(b.stake, a.stake);
      t.true(b.state === 'open' || b.state === 'rejected', `bet ${b.id} is ${b.state}`);
      t.is(stakeRef.get(`bet:${b.id}:stake`), b.state === 'open' ? -b.stake : undefined, `stake of ${b.id} debited once, only if open`);
    }
    // Bets placed whose answer the client never saw (killed mid-request): at most one per such tap.
    const extras = bets.filter((b) => !ids.includes(b.id));
    t.true(extras.length <= burst.ambiguous, `${extras.length} unanswered bets for ${burst.ambiguous} unanswered taps`);
    // The cache never promised money the book did not have: nothing was rejected at commit.
    t.is(bets.filter((b) => b.state === 'rejected').length, 0);

    const dupRefs = db.raw.prepare('SELECT ref FROM ledger GROUP BY ref HAVING COUNT(*) > 1').pluck().all();
    t.deepEqual(dupRefs, [], 'no ledger ref appears twice');
    for (const p of rig.players) {
      const balance = db.raw.prepare('SELECT balance FROM users WHERE address = ?').pluck().get(p.address) as number;
      const open = bets.filter((b) => b.address === p.address && b.state === 'open').reduce((s, b) => s + b.stake, 0);
      const ledgerSum = db.raw.prepare('SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE address = ?').pluck().get(p.address) as number;
      t.is(balance, p.funds - open, `balance of ${p.address}`);
      t.is(ledgerSum, balance, `ledger of ${p.address}`);
      t.is(await rig.client.get(betKeys.pending(p.address)), null, `no stake still pending for ${p.address}`);
      t.is(Number(await rig.client.get(betKeys.balance(p.address))), balance, `available balance cache of ${p.address}`);
    }
    const report = checkIntegrity(db);
    t.true(report.ok, JSON.stringify(report.problems.slice(0, 5)));
    const states = bets.reduce<Record<string, number>>((m, b) => ((m[b.state] = (m[b.state] ?? 0) + 1), m), {});
    t.log(`${tag}: SQLite holds ${bets.length} bets ${JSON.stringify(states)} (${extras.length} never answered), ${report.rows} ledger rows`);
  } finally {
    db.close();
  }
  const cli = await runCli(['integrity', 'check'], rig.env);
  t.is(cli.code, 0, cli.stdout + cli.stderr);
}

test.serial('the API killed with SIGKILL mid-burst and restarted: nothing accepted is lost or doubled', async (t) => {
  await scenario(t, 'api-kill', async (rig, tt) => {
    const started = Date.now();
    tt.not(await rig.api.stop('SIGKILL'), 0);
    await rig.startApi();
    tt.log(`api-kill: API down and back in ${Date.now() - started} ms`);
  });
});

test.serial('the writer killed with SIGKILL mid-batch and restarted: the batch is committed once', async (t) => {
  let redelivered = 0;
  await scenario(t, 'writer-kill', async (rig, tt) => {
    // Freeze the writer until it is caught holding a batch it read but has not acknowledged (in
    // its transaction, or between commit and ack), then kill it there.
    const pid = rig.writer.child.pid as number;
    const inFlight = await waitFor(async () => {
      process.kill(pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 20)); // let what it already sent reach Redis
      const [n] = (await rig.client.xpending(WRITER_STREAM, WRITER_GROUP)) as [number];
      if (Number(n) > 0) return Number(n);
      process.kill(pid, 'SIGCONT');
      return false;
    }, 'the writer holding a batch', 10_000, 5);
    tt.not(await rig.writer.stop('SIGKILL'), 0);
    const db = openDb(rig.config.dbFile, { readonly: true });
    const commits = db.raw.prepare('SELECT COUNT(*) FROM bets').pluck().get() as number;
    db.close();
    await rig.startWriter();
    const writer = rig.writer;
    redelivered = Number(await waitFor(() => /"redelivered":(\d+)/.exec(writer.output())?.[1], 'the recovery log line'));
    tt.log(`writer-kill: killed holding ${inFlight} unacknowledged entries, ${commits} bets committed; the restart redelivered ${redelivered}`);
  });
  t.true(redelivered > 0, 'the restarted writer re-processed the batch the killed one held');
});

test.serial('Redis killed with SIGKILL mid-burst and down for a while: clients get quick 503s, services reconnect, nothing is lost', async (t) => {
  const burst = await scenario(t, 'redis-kill', async (rig, tt) => {
    const started = Date.now();
    await rig.redis.kill();
    // Stay down long enough for the clients to see it (the outage under test, not a wait for state).
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await rig.redis.restart();
    tt.log(`redis-kill: Redis down and back in ${Date.now() - started} ms`);
  });
  t.true((burst.errors5xx.unavailable ?? 0) > 0, 'taps during the outage were answered 503 unavailable');
});

test.serial('Redis stopped gracefully (SIGTERM) mid-burst and restarted at once: replies lost in the restart move no money twice', async (t) => {
  await scenario(t, 'redis-term', async (rig, tt) => {
    const started = Date.now();
    const pid = rig.redis.pid;
    process.kill(pid, 'SIGTERM');
    // The old server must be gone (AOF flushed and closed) before a new one loads the file.
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'redis-server exited', 10_000, 10);
    await rig.redis.restart();
    tt.log(`redis-term: Redis down and back in ${Date.now() - started} ms`);
  });
});

test.serial('a reply lost in a Redis restart neither doubles a reservation nor strands a queued bet', async (t) => {
  // The two ways a restart loses a reply, replayed deterministically against the real processes:
  // the client library re-sends the reservation script, and a read delivers entries the writer never sees.
  const rig = await startRig({ funds: [5_000, 5_000] });
  t.teardown(() => rig.stop());
  await warmBalances(rig);
  const { config } = rig;
  const cell = rig.cells[0] as (typeof rig.cells)[number];
  const bet = (address: string, stake: number): BetCommand => ({
    t: 'bet', id: `b${Date.now().toString(36)}${randomBytes(8).toString('hex')}`, address, quoteId: rig.quote.id, lowCents: cell.lowCents, highCents: cell.highCents,
    startMs: cell.startMs, endMs: cell.endMs, stake, multiplierCents: cell.multiplierCents, payout: payoutOf(stake, cell.multiplierCents), placedAt: Date.now(),
  });
  const [alice, bob] = rig.players as [(typeof rig.players)[number], (typeof rig.players)[number]];

  const reserver = createReserver(rig.client, { staleAfterMs: config.breaker.staleAfterMs, recoveryMs: config.breaker.recoveryMs, ratePerSecond: config.betting.ratePerSecond, cellCap: config.betting.cellLiabilityCap, columnCap: config.betting.columnLiabilityCap, idempotencyTtlSeconds: config.betting.idempotencyTtlSeconds });
  const twice = bet(alice.address, 100);
  t.like(await reserver.reserve(twice, { now: Date.now() }), { kind: 'ok', betId: twice.id, available: 4_900 });
  // Re-sent while the bet is still queued, the script finds it and reserves nothing; re-sent after
  // the writer committed it (and retired its pending record), it reserves again and the writer
  // returns that duplicate reservation in full (no second debit): either way nothing is spent twice.
  const again = await reserver.reserve(twice, { now: Date.now() });
  t.like(again, { kind: 'ok', betId: twice.id });
  t.true(again.kind === 'ok' && (again.available === 4_900 || again.available === 4_800), JSON.stringify(again));

  // Queued and delivered to the writer's consumer in one step, as if the writer's read reply was lost.
  const stranded = bet(bob.address, 300);
  await rig.client.multi()
    .decrby(betKeys.balance(bob.address), stranded.stake)
    .incrby(betKeys.pending(bob.address), stranded.stake)
    .hset(betKeys.pendingBets(bob.address), stranded.id, encodeCommand(stranded))
    .xadd(WRITER_STREAM, '*', 'c', encodeCommand(stranded))
    .xreadgroup('GROUP', WRITER_GROUP, 'writer', 'COUNT', 10, 'STREAMS', WRITER_STREAM, '>')
    .exec();

  await drained(rig, [twice.id, stranded.id]);
  const db = openDb(config.dbFile, { readonly: true });
  t.teardown(() => db.close());
  for (const [p, spent] of [[alice, 100], [bob, 300]] as const) {
    const balance = db.raw.prepare('SELECT balance FROM users WHERE address = ?').pluck().get(p.address);
    t.is(balance, 5_000 - spent);
    await waitFor(async () => Number(await rig.client.get(betKeys.balance(p.address))) === 5_000 - spent, `the cache of ${p.address} back at ${5_000 - spent}`);
    t.is(await rig.client.get(betKeys.pending(p.address)), null);
  }
  t.true(checkIntegrity(db).ok);
});

test.serial('a queue entry whose data vanished from the stream is dead-lettered: the writer still starts', async (t) => {
  const rig = await startRig({ funds: [1_000] });
  t.teardown(() => rig.stop());
  t.is(await rig.writer.stop('SIGTERM'), 0);
  // Delivered to the writer's consumer, then trimmed away before it was acknowledged.
  const [, read] = (await rig.client.multi()
    .xadd(WRITER_STREAM, '*', 'c', encodeCommand({ t: 'load', address: (rig.players[0] as { address: string }).address }))
    .xreadgroup('GROUP', WRITER_GROUP, 'writer', 'COUNT', 10, 'STREAMS', WRITER_STREAM, '>')
    .exec()) as [unknown, [null, [string, [string, string[]][]][]]];
  const id = read[1][0]?.[1][0]?.[0] as string;
  t.is(await rig.client.xdel(WRITER_STREAM, id), 1);
  await rig.startWriter();
  const [pending] = (await rig.client.xpending(WRITER_STREAM, WRITER_GROUP)) as [number];
  t.is(Number(pending), 0);
  t.is(await rig.client.xlen(DEAD_LETTERS), 1);
});
