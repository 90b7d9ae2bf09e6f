/**
 * The writer sizes its reads (TAPSTACK_WRITER_BATCH_TARGET_MS): a batch is as large as fits the
 * target at the measured time per entry, and a read that comes back full (entries waiting) makes
 * the next one twice as large, up to the maximum, then back once the writer has caught up.
 */
import test from 'ava';
import type { BetCommand } from '../../services/shared/betting/commands.js';
import type { Redis } from '../../services/shared/redis.js';
import { getBet } from '../../services/shared/repos/bets.repo.js';
import { findUser } from '../../services/shared/repos/users.repo.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { ALICE, funded, reserveBet, rig } from '../helpers/writer-rig.js';

let server: TestRedis;
test.before(async () => {
  server = await startRedis();
});
test.after.always(async () => {
  await server?.stop();
});

/** The writer's reader, recording each read of new entries: how many it asked for and got. */
function recordingReader(reader: Redis, reads: [asked: number, got: number][]): Redis {
  return new Proxy(reader, {
    get(target, prop, receiver) {
      if (prop !== 'call') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<Redis['call']>) => {
        const reply = (await target.call(...args)) as [string, unknown[]][] | null;
        if (args.includes('>')) reads.push([Number(args[args.indexOf('COUNT') + 1]), reply?.[0]?.[1]?.length ?? 0]);
        return reply;
      };
    },
  }) as Redis;
}

/**
 * `count` bets reserved and waiting, then a writer started on them: resolves once the last one is
 * committed and its reservation resolved, with the reads it made.
 */
async function drainBacklog(t: Parameters<typeof rig>[1], count: number, batchTargetMs?: number) {
  const r = await rig(server, t);
  await funded(r, 1_000_000);
  const bets: BetCommand[] = [];
  for (let i = 0; i < count; i++) bets.push(await reserveBet(r, ALICE, 10));
  const reads: [number, number][] = [];
  const writer = r.writerWith(r.bookkeeper, { reader: recordingReader(r.reader, reads), ...(batchTargetMs !== undefined ? { batchTargetMs } : {}) });
  writer.start();
  t.teardown(() => writer.stop());
  await waitFor(async () => getBet(r.env.db, bets.at(-1)!.id) !== undefined && (await r.cache(ALICE)).pend === null, 'the backlog committed', 30_000);
  await writer.stop();
  return { r, reads };
}

test('a backlog is read in batches that double while they come back full, then the size returns to the target', async (t) => {
  // A target no batch can meet: the size from the time per entry is always the floor, 16.
  const { r, reads } = await drainBacklog(t, 300, 0.001);
  t.deepEqual(reads.slice(0, 5), [[16, 16], [32, 32], [64, 64], [128, 128], [256, 60]], JSON.stringify(reads.slice(0, 8)));
  // Caught up: back to the floor.
  t.deepEqual(reads[5], [16, 0]);
  t.is(findUser(r.env.db, ALICE)?.balance, 1_000_000 - 3_000);
  t.deepEqual(await r.cache(ALICE), { bal: String(1_000_000 - 3_000), pend: null });
});

test('without a target every read asks for the maximum (the batch is whatever is waiting, up to it)', async (t) => {
  const { reads } = await drainBacklog(t, 40);
  t.deepEqual(reads[0], [500, 40]);
});
