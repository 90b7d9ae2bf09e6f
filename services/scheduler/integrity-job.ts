/**
 * The scheduled ledger integrity check: runs the same check as `tapstack integrity check`,
 * exports the result as metrics and keeps the last report in Redis for other processes.
 */
import type { Db } from '../shared/db/database.js';
import { checkIntegrity, type IntegrityReport } from '../shared/integrity.js';
import type { Logger } from '../shared/logger.js';
import type { Metrics } from '../shared/metrics.js';
import type { Redis } from '../shared/redis.js';
import { INTEGRITY_REPORT_KEY } from '../shared/redis-names.js';

export function createIntegrityJob(deps: { db: Db; redis: Redis; metrics: Metrics; log: Logger; now: () => number }) {
  const log = deps.log.child({ module: 'integrity' });
  const publish = (r: IntegrityReport) => {
    deps.metrics.integrityOk.set(r.ok ? 1 : 0);
    deps.metrics.integrityLastRun.set(Math.floor(r.checkedAt / 1000));
    deps.metrics.integrityProblems.set(r.problemCount);
    deps.metrics.integrityDuration.set(r.durationMs / 1000);
  };
  return {
    /** Restore the gauges from the last stored report so a restart does not blank them. */
    async restore(): Promise<void> {
      const raw = await deps.redis.get(INTEGRITY_REPORT_KEY).catch(() => null);
      if (raw) publish(JSON.parse(raw) as IntegrityReport);
    },
    async run(): Promise<IntegrityReport> {
      const report = checkIntegrity(deps.db, { now: deps.now });
      publish(report);
      if (report.ok) log.info({ rows: report.rows, accounts: report.accounts, head: report.head, ms: report.durationMs }, 'ledger integrity check passed');
      else log.error({ problemCount: report.problemCount, problems: report.problems.slice(0, 20), head: report.head }, 'LEDGER INTEGRITY CHECK FAILED');
      await deps.redis.set(INTEGRITY_REPORT_KEY, JSON.stringify(report)).catch((err: Error) => log.warn({ err: err.message }, 'could not store the report in redis'));
      return report;
    },
  };
}
