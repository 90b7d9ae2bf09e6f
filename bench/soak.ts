/**
 * `npm run bench:soak`: sustained load with Idempotency-Keys (as clients should send them) against
 * the real API, writer and realtime processes and a Redis with the appliance's own configuration
 * (its `maxmemory` included), for minutes. Reports Redis `used_memory` at start, peak and end, keys
 * by prefix, and SQLite/WAL growth per million bets, so DEPLOY.md's memory formula is measured,
 * not guessed. Bounded: BENCH_SOAK_S seconds (default 300) at BENCH_RATE bets/s (default 3,000).
 * Every process it starts is stopped by PID, also on failure.
 */
import fs from 'node:fs';
import os from 'node:os';
import { openDb } from '../services/shared/db/database.js';
import { finalAccounting, phaseOpenLoop, rowsOf, step, type BenchOptions } from './phases.js';
import { envInt, runDirs, runEntry, serviceOverrides } from './options.js';
import { startStack, type Stack } from './stack.js';

const opts: BenchOptions = {
  durationS: envInt('BENCH_SOAK_S', 300),
  rate: envInt('BENCH_RATE', 3000),
  saturatedS: 0,
  warmupS: 0,
  players: envInt('BENCH_PLAYERS', 200),
  connections: 0,
  threads: 0,
  openConnections: envInt('BENCH_OPEN_CONNECTIONS', 64),
  profile: false,
  keep: process.env.BENCH_KEEP === '1',
  idempotencyKeys: true,
};
const overrides = serviceOverrides();
/** Temporary directories of this run: removed at the end, also on failure, unless BENCH_KEEP=1. */
const { tempDir, cleanUp } = runDirs(opts.keep, step);

const info = async (s: Stack, field: string) => Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await s.redis.info('memory'))?.[1] ?? Number.NaN);

async function keysByPrefix(s: Stack): Promise<Record<string, number>> {
  const prefix = s.config.redis.prefix;
  const raw = s.redis.duplicate({ keyPrefix: '' });
  try {
    const out: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
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

const fileSize = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<number> {
  step(`soak: ${opts.rate} bets/s with Idempotency-Keys for ${opts.durationS} s, ${opts.players} players`);
  const stack = await startStack({ players: opts.players, funds: 1_000_000_000, nodeArgs: [], overrides, runSeconds: opts.durationS + 120, dataDir: tempDir('tapstack-soak-data-'), applianceMaxmemory: true });
  const db = openDb(stack.config.dbFile, { readonly: true });
  const dbFile = stack.config.dbFile;
  try {
    const maxmemory = await info(stack, 'maxmemory');
    const start = { used: await info(stack, 'used_memory'), keys: await keysByPrefix(stack), db: fileSize(dbFile), wal: fileSize(`${dbFile}-wal`), rows: rowsOf(db) };
    let peak = start.used;
    let peakWal = start.wal;
    const samples: { s: number; used: number }[] = [];
    const t0 = Date.now();
    const sampler = setInterval(() => {
      void info(stack, 'used_memory').then((used) => {
        peak = Math.max(peak, used);
        peakWal = Math.max(peakWal, fileSize(`${dbFile}-wal`));
        samples.push({ s: Math.round((Date.now() - t0) / 1000), used });
      });
    }, 2000);
    const open = await phaseOpenLoop(opts, stack, db, tempDir('tapstack-soak-load-'), { label: 'soak', rate: opts.rate, tag: 'soak' });
    clearInterval(sampler);
    const endLoad = { used: await info(stack, 'used_memory'), keys: await keysByPrefix(stack) };
    const final = await finalAccounting(stack, db);
    const bets = rowsOf(db) - start.rows;
    const end = { used: await info(stack, 'used_memory'), keys: await keysByPrefix(stack), db: fileSize(dbFile), wal: fileSize(`${dbFile}-wal`) };
    const perMillion = (b: number) => (bets > 0 ? (b / bets) * 1e6 : Number.NaN);
    const r = open.result;
    const lines = [
      '',
      `bench:soak — ${new Date().toISOString()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`,
      `load: ${opts.rate}/s for ${opts.durationS} s with Idempotency-Keys (TTL ${stack.config.betting.idempotencyTtlSeconds} s); sent ${r.sent}, accepted ${r.accepted}, status ${JSON.stringify(r.status)}`,
      `committed during the run: ${open.committedPerS.toFixed(0)}/s; accept p99 ${r.acceptMs.p99.toFixed(1)} ms; tap→bet:confirmed p99 ${r.confirmMs.p99.toFixed(1)} ms`,
      `redis maxmemory ${mib(maxmemory)}; used_memory start ${mib(start.used)}, peak ${mib(peak)} (${((peak / maxmemory) * 100).toFixed(1)} % of maxmemory), end of load ${mib(endLoad.used)}, after drain ${mib(end.used)}`,
      `redis bytes per accepted bet at the peak: ${((peak - start.used) / Math.max(1, Math.min(r.accepted, opts.rate * stack.config.betting.idempotencyTtlSeconds))).toFixed(0)} B over the Idempotency-Key window`,
      `keys at start ${JSON.stringify(start.keys)}`,
      `keys at end of load ${JSON.stringify(endLoad.keys)}`,
      `keys after drain ${JSON.stringify(end.keys)}`,
      `memory samples (s:MiB) ${samples.filter((_, i) => i % 5 === 0).map((x) => `${x.s}:${(x.used / 1048576).toFixed(0)}`).join(' ')}`,
      `sqlite: ${bets} bets; main file +${mib(end.db - start.db)} (${mib(perMillion(end.db - start.db))} per million bets); WAL peak ${mib(peakWal)}, end ${mib(end.wal)}`,
      `accounting: accepted ${final.accepted}, rows ${final.rows}, lost ${final.lost}, integrity ${final.integrity.ok ? 'OK' : 'FAILED'}, caches matching ${final.cacheMatches}/${stack.players.length}, stakes still queued ${final.pendingStakes}`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    return final.lost === 0 && final.integrity.ok && open.missingRows === 0 ? 0 : 1;
  } finally {
    db.close();
    stack.redis.disconnect();
  }
}

runEntry('bench:soak', main, cleanUp);
