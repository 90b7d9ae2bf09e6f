/** Writer process: the single consumer of the money queue (bets, settlements, balance loads). */
import { createServer } from 'node:http';
import { createBookkeeper } from '../shared/betting/bookkeeping.js';
import { channels } from '../shared/redis-names.js';
import { createLifecycle } from '../shared/lifecycle.js';
import { createMetrics, registerDataMetrics } from '../shared/metrics.js';
import { createProbeHandler } from '../shared/probe-server.js';
import { checkReadiness } from '../shared/readiness.js';
import { createRedis } from '../shared/redis.js';
import { bootConfig, checkpointThreadWanted, openPrimaryDb } from '../shared/boot.js';
import { startCheckpointer } from './checkpointer.js';
import { createWriterMetrics } from './metrics.js';
import { createWriter } from './writer.js';
import { takeWriterLock } from '../shared/writer-lock.js';

const { config, log } = bootConfig('writer');
const lifecycle = createLifecycle(log, config.shutdownTimeoutMs);
lifecycle.installSignalHandlers();

// The one process that moves money: wait while an admin command commits a movement by itself.
const lock = await takeWriterLock(config.dataDir, { onWait: () => log.warn('waiting for the writer lock (an admin command is committing a movement)') });
const checkpointThread = checkpointThreadWanted(config);
const db = openPrimaryDb(config, log, { checkpointThread });
const checkpointer = checkpointThread ? startCheckpointer({ file: config.dbFile, synchronous: config.sqlite.synchronous }, log, { catchUp: () => db.checkpointPassive() }) : undefined;
const redis = createRedis(config, log, 'writer');
const reader = createRedis(config, log, 'writer-reader');
const metrics = createMetrics('writer');
registerDataMetrics(metrics.registry, config);
const writer = createWriter({
  db,
  redis,
  reader,
  bookkeeper: createBookkeeper(redis),
  channels: channels(config.redis.prefix),
  log,
  metrics: createWriterMetrics(metrics.registry),
  batchMax: config.writer.batchMax,
  batchTargetMs: config.writer.batchTargetMs,
  now: Date.now,
});
const recovered = await writer.recover();
log.info(recovered, 'recovered: unacknowledged entries re-processed, balance cache rebuilt');
writer.start();

const ready = async () => {
  const r = await checkReadiness({ db, redis, now: Date.now, service: 'writer' });
  const loopAge = Date.now() - writer.lastLoopAt();
  r.checks.loop = { ok: loopAge < 10_000, ageMs: loopAge };
  return { ok: r.ok && loopAge < 10_000, checks: r.checks };
};
const probe = createServer(createProbeHandler({ metrics, ready }));
probe.listen(config.writer.port, config.workers.host, () => log.info({ address: probe.address() }, 'writer probe listening'));

lifecycle.onShutdown('drain the batch in flight', () => writer.stop());
lifecycle.onShutdown('stop probe listener', () => new Promise<void>((resolve) => probe.close(() => resolve())));
lifecycle.onShutdown('close redis', async () => {
  reader.disconnect();
  await redis.quit();
});
lifecycle.onShutdown('stop the checkpoint thread', async () => checkpointer?.stop());
lifecycle.onShutdown('checkpoint wal', () => db.checkpoint());
lifecycle.onShutdown('close database', () => db.close());
lifecycle.onShutdown('release the writer lock', () => lock.release());
