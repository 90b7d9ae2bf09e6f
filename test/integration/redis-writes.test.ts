/**
 * The Redis connection writes the commands of one event-loop turn together (services/shared/redis.ts):
 * held while the turn issues them, sent at its end in order, answered one by one, and the same on
 * the connection ioredis makes again after Redis restarts.
 */
import test from 'ava';
import type { Socket } from 'node:net';
import { loadConfig } from '../../services/shared/config.js';
import { createLogger } from '../../services/shared/logger.js';
import { createRedis, type Redis } from '../../services/shared/redis.js';
import { tempDir, testEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const N = 200;

/** Redis's count of socket reads (INFO stats), asked on a connection of its own. */
async function readsProcessed(other: Redis): Promise<number> {
  const m = /total_reads_processed:(\d+)/.exec(await other.info('stats'));
  if (!m) throw new Error('INFO stats has no total_reads_processed');
  return Number(m[1]);
}

/** N INCRs issued in one turn: whether they were held in that turn, and their answers. */
async function burst(redis: Redis, key: string) {
  const replies = Array.from({ length: N }, () => redis.incr(key));
  const socket = redis.stream as Socket;
  const held = { corked: socket.writableCorked, buffered: socket.writableLength };
  return { held, replies: await Promise.all(replies) };
}

async function connected(server: TestRedis, name: string) {
  const config = loadConfig(testEnv({ dataDir: tempDir(), redis: server }));
  const redis = createRedis(config, createLogger({ service: 'test', level: 'silent' }), name);
  await waitFor(() => redis.status === 'ready', `${name} ready`);
  return redis;
}

test('the commands of one turn leave in one write, in order, each answered', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const redis = await connected(server, 'writes-test');
  t.teardown(() => redis.disconnect());
  const other = await connected(server, 'writes-observer');
  t.teardown(() => other.disconnect());

  const before = await readsProcessed(other);
  const { held, replies } = await burst(redis, 'n');
  const reads = (await readsProcessed(other)) - before;

  t.true(held.corked > 0 && held.buffered > 0, `held in the turn that issued them: ${JSON.stringify(held)}`);
  t.deepEqual(replies, Array.from({ length: N }, (_, i) => i + 1), 'answered in the order issued');
  // The burst's one write (a few if the kernel splits it) plus the observer's INFO.
  t.true(reads <= 4, `${N} commands took ${reads} reads in Redis`);

  // A command of a later turn is not held back by an earlier one's answers.
  const later = await new Promise<number>((resolve, reject) => setImmediate(() => redis.incr('n').then(resolve, reject)));
  t.is(later, N + 1);
  t.is((redis.stream as Socket).writableCorked, 0, 'nothing held once the turns are over');
});

test('the connection made again after a Redis restart writes the same way', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const redis = await connected(server, 'writes-restart-test');
  t.teardown(() => redis.disconnect());
  const first = redis.stream;

  await server.kill();
  await server.restart();
  await waitFor(() => redis.status === 'ready' && redis.stream !== first, 'the connection back after the restart', 30_000);
  const { held, replies } = await burst(redis, 'm');
  t.true(held.corked > 0 && held.buffered > 0, `held on the new socket: ${JSON.stringify(held)}`);
  t.is(replies.at(-1), N);
});
