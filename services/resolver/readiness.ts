/**
 * The resolver's readiness check. Its database handle is read-only on purpose (openPrimaryDb with
 * `readonly`): every write goes through the single writer's queue, and a read-only handle makes
 * that a property of the process rather than a promise of its code.
 */
import type { Db } from '../shared/db/database.js';
import { migrationStatus } from '../shared/db/migrate.js';
import type { Redis } from '../shared/redis.js';
import { probeOpenBets } from '../shared/repos/readiness.repo.js';
import { redisCheck, type Check, type Readiness } from '../shared/readiness.js';

/** /readyz: Redis answers, the database is readable at the current schema, and a pass finished recently. */
export async function resolverReadiness(deps: {
  db: Db;
  redis: Redis;
  now: () => number;
  lastRunAt: number | undefined;
  maxAgeMs: number;
}): Promise<Readiness> {
  const checks: Record<string, Check> = {};
  checks.redis = await redisCheck(deps.redis);
  try {
    const m = migrationStatus(deps.db);
    probeOpenBets(deps.db);
    checks.sqlite = { ok: m.current === m.latest, current: m.current, latest: m.latest };
  } catch (err) {
    checks.sqlite = { ok: false, error: (err as Error).message };
  }
  const age = deps.lastRunAt === undefined ? undefined : deps.now() - deps.lastRunAt;
  checks.resolving = { ok: age !== undefined && age <= deps.maxAgeMs, lastRunAt: deps.lastRunAt ?? null };
  return { ok: Object.values(checks).every((c) => c.ok), checks };
}
