/**
 * The readiness check every process answers on /readyz: the database file takes a write (a
 * heartbeat row), Redis answers PING, and the schema is at this build's latest migration.
 */
import type { Db } from './db/database.js';
import { migrationStatus } from './db/migrate.js';
import type { Redis } from './redis.js';
import { beat } from './repos/heartbeats.repo.js';

export interface Check {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export interface Readiness {
  ok: boolean;
  checks: Record<string, Check>;
}

export async function checkReadiness(deps: { db: Db; redis: Redis; now: () => number; service: string }): Promise<Readiness> {
  const checks: Record<string, Check> = {};
  try {
    beat(deps.db, deps.service, process.pid, deps.now());
    checks.sqlite = { ok: true };
  } catch (err) {
    checks.sqlite = { ok: false, error: (err as Error).message };
  }
  checks.redis = await redisCheck(deps.redis);
  try {
    const m = migrationStatus(deps.db);
    checks.migrations = { ok: m.current === m.latest, current: m.current, latest: m.latest };
  } catch (err) {
    checks.migrations = { ok: false, error: (err as Error).message };
  }
  return { ok: Object.values(checks).every((c) => c.ok), checks };
}

/** Redis answers PING within a second. */
export async function redisCheck(redis: Redis): Promise<Check> {
  try {
    return { ok: (await withTimeout(redis.ping(), 1000)) === 'PONG' };
  } catch {
    // Generic on purpose: /readyz is reachable from outside; the process log has the details.
    return { ok: false, error: redis.status === 'ready' ? 'no answer' : `not connected (${redis.status})` };
  }
}

/** Reject if `p` does not settle within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
