/**
 * Player events travel over Redis pub/sub, which keeps nothing for a subscriber that is away. When
 * the realtime service's subscription comes back (Redis restarted, the connection dropped), every
 * signed-in player still connected gets `bets:sync` again: a confirmation published in the gap is
 * not lost to them. Real Redis, the real realtime service in-process, a real socket.io client.
 */
import test from 'ava';
import type { Socket } from 'socket.io-client';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { ALICE, funded, reserveBet, rig, startRealtime } from '../helpers/writer-rig.js';

let server: TestRedis;

test.before(async () => {
  server = await startRedis();
});
test.after.always(async () => {
  await server?.stop();
});

type Sync = { pending: { id: string; state: string }[]; recent: { id: string; state: string }[] };

/** A signed-in socket recording every bets:sync and bet:confirmed it is sent. */
function record(socket: Socket) {
  const syncs: Sync[] = [];
  const confirmed: { id: string }[] = [];
  socket.on('bets:sync', (d: Sync) => syncs.push(d));
  socket.on('bet:confirmed', (d: { id: string }) => confirmed.push(d));
  return { syncs, confirmed };
}

test.serial('a bet confirmed while the realtime subscription is away reaches the connected player when it is back', async (t) => {
  const r = await rig(server, t);
  await funded(r, 2_000);
  const realtime = await startRealtime(r, t);
  const seen = record(realtime.connect());
  await waitFor(() => seen.syncs.length === 1, 'the bets:sync of the connect');

  const bet = await reserveBet(r, ALICE, 300);
  realtime.subscriber.disconnect(); // the subscription is gone (as in an outage) until connect()
  await waitFor(() => realtime.subscriber.status === 'end', 'the subscriber closed');
  await r.writer.processBatch(await r.readAll());
  const published = await waitFor(() => r.events.find((e) => e.event === 'bet:confirmed' && e.data.id === bet.id), 'the confirmation published');
  t.truthy(published);

  await realtime.subscriber.connect();
  const resync = await waitFor(() => seen.syncs[1], 'a bets:sync after the subscription came back');
  t.deepEqual(resync.recent.filter((b) => b.id === bet.id).map((b) => b.state), ['open'], 'the bet shows as confirmed');
  t.deepEqual(resync.pending, []);
  t.deepEqual(seen.confirmed, [], 'the live confirmation was published into the gap');

  // Live again: the next bet's confirmation comes as it is published, with no further resync.
  const next = await reserveBet(r, ALICE, 200);
  await r.writer.processBatch(await r.readAll());
  await waitFor(() => seen.confirmed.find((b) => b.id === next.id), 'the next bet:confirmed, live');
  t.is(seen.syncs.length, 2);
});

test.serial('a dropped subscriber connection (killed in Redis) resyncs every signed-in socket once it has resubscribed', async (t) => {
  const r = await rig(server, t);
  await funded(r, 2_000);
  const realtime = await startRealtime(r, t);
  const [a, b] = [record(realtime.connect()), record(realtime.connect())];
  await waitFor(() => a.syncs.length === 1 && b.syncs.length === 1, 'the bets:sync of both connects');
  const probe = async () => (await fetch(`${realtime.url}/readyz`)).status;
  t.is(await probe(), 200);

  const killed = await r.redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'SKIPME', 'yes');
  t.true(Number(killed) >= 1, 'the subscriber connection was killed');
  await waitFor(() => a.syncs.length === 2 && b.syncs.length === 2, 'a bets:sync to each socket after the resubscription');
  t.is(await probe(), 200, 'ready again');
  // The player's room got one sync per socket, not one per socket per socket.
  t.is(a.syncs.length, 2);
  t.is(b.syncs.length, 2);
});
