/**
 * Stopping Redis without losing what it accepted. supervisord's stop signal for Redis is HUP,
 * which Redis ignores (supervisord.conf): the health listener sees the program STOPPING and stops
 * it here, through the Redis protocol, as soon as that loses nothing:
 *
 * - its AOF is being written (`aof_last_write_status:ok`): `SHUTDOWN` (AOF flushed and fsynced, a
 *   final RDB for a fast restart), or `SHUTDOWN NOSAVE` if that RDB does not fit on the disk —
 *   the AOF alone holds every write;
 * - its AOF cannot be written (a full disk): every write since the failure exists only in Redis's
 *   memory. Redis retries the AOF write every second, so we keep it running and try again each
 *   second until space is freed; only when supervisord's stop timeout is about to end do we give
 *   up with `SHUTDOWN NOSAVE FORCE` (a clean exit, logged as an error with what is lost) rather
 *   than leave it to SIGKILL.
 */
import { Redis } from 'ioredis';
import type { Config } from '../services/shared/config.js';
import type { Logger } from '../services/shared/logger.js';

export interface RedisStopDeps {
  config: Config;
  log: Logger;
  /**
   * Still STOPPING (supervisord has not seen it exit)? `undefined` when supervisord cannot say:
   * while it shuts down its XML-RPC interface refuses every call (SHUTDOWN_STATE).
   */
  stopping(): Promise<boolean | undefined>;
  /** Seconds supervisord waits before SIGKILL (its stopwaitsecs). */
  stopWaitSeconds: number;
  everyMs?: number;
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Sends SHUTDOWN; true once the server is gone (the reply to a successful SHUTDOWN is a closed connection). */
async function shutdown(redis: Redis, ...args: string[]): Promise<{ gone: boolean; error?: string }> {
  try {
    await redis.call('SHUTDOWN', ...args);
    return { gone: false, error: 'SHUTDOWN returned' };
  } catch (err) {
    const message = (err as Error).message;
    if (/^ERR|^MISCONF|^NOAUTH|^BUSY/.test(message)) return { gone: false, error: message };
    return { gone: true };
  }
}

export async function stopRedisGracefully(deps: RedisStopDeps): Promise<void> {
  const { config, log } = deps;
  const began = Date.now();
  // Leave a few seconds of supervisord's timeout for the forced exit itself.
  const giveUpAt = began + Math.max(1, deps.stopWaitSeconds - 5) * 1000;
  let waitingLogged = false;
  // While supervisord shuts down we cannot ask it, and Redis is stopped last but one: go on until
  // Redis is gone (or supervisord, past its timeout, has killed it and then us).
  const hardEnd = began + (deps.stopWaitSeconds + 10) * 1000;
  while ((await deps.stopping()) !== false && Date.now() < hardEnd) {
    const redis = new Redis(config.redis.url, {
      password: config.redis.password || undefined,
      lazyConnect: true,
      connectTimeout: 2000,
      commandTimeout: 5000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableReadyCheck: false,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const info = await redis.info('persistence');
      const aofOn = field(info, 'aof_enabled') === '1';
      const aofOk = !aofOn || field(info, 'aof_last_write_status') === 'ok';
      if (aofOk) {
        let r = await shutdown(redis);
        if (!r.gone) {
          log.warn({ err: r.error }, 'Redis could not write its final RDB: stopping it with the AOF alone (nothing is lost)');
          r = await shutdown(redis, 'NOSAVE');
        }
        if (r.gone) return void log.info({ seconds: Math.round((Date.now() - began) / 1000) }, 'Redis stopped');
      } else if (Date.now() >= giveUpAt) {
        log.error(
          { unwrittenAofBytes: Number(field(info, 'aof_buffer_length') ?? 0), changesSinceRdb: Number(field(info, 'rdb_changes_since_last_save') ?? 0) },
          'Redis still cannot write its AOF and its stop timeout ends: forcing it to exit; writes it could not persist are lost',
        );
        await shutdown(redis, 'NOSAVE', 'FORCE');
        return;
      } else if (!waitingLogged) {
        waitingLogged = true;
        log.error(
          { secondsLeft: Math.round((giveUpAt - Date.now()) / 1000) },
          'Redis cannot write its AOF (is the disk full?): keeping it running, so it keeps what it accepted, until it can; free space on the data volume',
        );
      }
    } catch (err) {
      // Gone (refused): done. Not answering (wedged): supervisord's timeout decides.
      if (/ECONNREFUSED|ENOENT/.test((err as Error).message)) return;
    } finally {
      redis.disconnect();
    }
    await new Promise((r) => setTimeout(r, deps.everyMs ?? 1000));
  }
}
