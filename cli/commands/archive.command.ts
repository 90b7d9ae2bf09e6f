/**
 * `tapstack archive run|status|fetch|compact`: weekly archival of settled bets (issue 14,
 * backup/archive/). `run` does what the archiver process does on its schedule (resuming a killed
 * run); `fetch` brings an archived week back for queries; `compact` converts an existing database
 * to incremental auto-vacuum once, with the app stopped.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import { runArchiver } from '../../backup/archive/archiver.js';
import { anchorOf, fetchWeek } from '../../backup/archive/fetch.js';
import { localWeeks } from '../../backup/archive/local.js';
import { archiveSetup } from '../../backup/archive/setup.js';
import { ArchiveError } from '../../backup/archive/week-file.js';
import type { Config } from '../../services/shared/config.js';
import { createLogger } from '../../services/shared/logger.js';
import { archiveRuns, lastArchiveSuccess, parseWeekLabel, weekLabel } from '../../services/shared/repos/archive.repo.js';
import { takeAdminLock, tryWriterLock } from '../../services/shared/writer-lock.js';
import { CliError, EXIT, type Context } from '../context.js';
import { printJson } from '../output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** ArchiveError → CliError with its code (configuration problems exit 78). */
export function archiveCli<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((err: unknown) => {
    if (err instanceof ArchiveError) throw new CliError(err.message, err.code, err.code === 'archive-off' || err.code === 'unknown-target' ? EXIT.config : EXIT.failed);
    throw err;
  });
}

/** Test hook only (integration tests kill the run at a step): not a Tapstack setting. */
function crashHook(): ((point: string) => void) | undefined {
  const at = process.env.ARCHIVER_TEST_CRASH_AT;
  return at ? (point) => void (point === at && process.kill(process.pid, 'SIGKILL')) : undefined;
}

export function registerArchive(program: Command, ctx: Context): void {
  const archive = program.command('archive').description('Weekly archival of settled bets and their ledger rows (DEPLOY.md "Weekly archival")');
  archive
    .command('run')
    .description('Archive every closed week now (resumes a run that was killed); exit 1 if a week failed')
    .option('--now <ms>', 'pretend the time is this (epoch ms; tests and drills)')
    .option('--json', 'print the outcome as JSON')
    .action((opts: { now?: string; json?: boolean }) =>
      archiveCli(async () => {
        const config = ctx.config();
        // Logs on stderr: stdout is the command's answer (one JSON document with --json).
        const log = createLogger({ service: 'archive-cli', level: config.logLevel, destination: pino.destination({ dest: 2, sync: true }) });
        const setup = archiveSetup(config, { log });
        const fixed = opts.now === undefined ? undefined : Number(opts.now);
        try {
          const result = await runArchiver({ db: ctx.db(), target: setup.target, encryption: setup.encryption, ...archiveParams(config), log, now: fixed === undefined ? Date.now : () => fixed, crash: crashHook() });
          if (opts.json) printJson(result);
          else if (result.busy) process.stdout.write('another archive run holds archive.lock: nothing done\n');
          else for (const w of result.weeks) process.stdout.write(`${w.week}: ${w.status}${'reason' in w ? ` (${w.reason}${w.openBets ? `: ${w.openBets} open bets` : ''})` : ''}${'message' in w ? ` [${w.code}] ${w.message}` : ''}\n`);
          if (result.weeks.some((w) => w.status === 'failed')) process.exitCode = EXIT.failed;
        } finally {
          await setup.target.close?.();
        }
      }),
    );
  archive
    .command('status')
    .description('Archived weeks, their step, and which are local')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const config = ctx.config();
      const db = ctx.db();
      const { local } = localWeeks(db, config.archive.dir);
      const localSet = new Set(local.map((l) => l.anchor.week));
      const weeks = archiveRuns(db).map((r) => ({ week: weekLabel(r.week), step: r.step, bets: r.betCount, rows: r.rowCount, archiveBytes: r.archiveBytes, local: localSet.has(r.week), error: r.error }));
      const last = lastArchiveSuccess(db);
      if (opts.json) return printJson({ lastSuccess: last ?? null, weeks });
      process.stdout.write(`last week archived: ${last ? new Date(last).toISOString() : 'never'}\n`);
      for (const w of weeks) process.stdout.write(`${w.week}  ${w.step.padEnd(8)}  ${w.bets} bets  ${w.rows} rows  ${w.local ? 'local' : 'remote only'}${w.error ? `  error: ${w.error}` : ''}\n`);
    });
  archive
    .command('fetch <week>')
    .description('Bring an archived week (e.g. 2026-W47) back from the archive target, checked against its anchor')
    .option('--identity <file>', 'age identity file that decrypts backups (repeatable; default TAPSTACK_BACKUP_IDENTITY_FILE)', collect)
    .option('--force', 'download again even if the week file is local')
    .action((text: string, opts: { identity?: string[]; force?: boolean }) =>
      archiveCli(async () => {
        const week = parseWeekLabel(text);
        if (week === undefined) throw new CliError(`"${text}" is not an ISO week such as 2026-W47`, 'invalid-argument', EXIT.usage);
        const config = ctx.config();
        const setup = archiveSetup(config, { identityFiles: opts.identity ?? [] });
        try {
          const file = await fetchWeek(anchorOf(ctx.db(), week), config.archive.dir, setup.target, setup.decryption, { force: Boolean(opts.force) });
          process.stdout.write(`week ${weekLabel(week)} is local: ${file}\n`);
        } finally {
          await setup.target.close?.();
        }
      }),
    );
  archive
    .command('compact')
    .description('Once, with the app stopped: switch the database to incremental auto-vacuum (VACUUM) so archived weeks give their space back')
    .action(async () => {
      const config = ctx.config();
      const admin = await takeAdminLock(config.dataDir, { signal: AbortSignal.timeout(10_000) });
      try {
        const lock = tryWriterLock(config.dataDir);
        if (!lock) throw new CliError('the writer is running: stop the app first (VACUUM rewrites the whole file)', 'app-running');
        try {
          const db = ctx.db();
          db.raw.pragma('auto_vacuum = INCREMENTAL');
          db.raw.exec('VACUUM');
          db.checkpoint();
          process.stdout.write(`auto_vacuum is now ${String(db.raw.pragma('auto_vacuum', { simple: true }))} (2 = incremental)\n`);
        } finally {
          lock.release();
        }
      } finally {
        admin.release();
      }
    });
}

export function archiveParams(config: Config) {
  return { dir: config.archive.dir, keepLocalWeeks: config.archive.keepLocalWeeks, graceMs: config.archive.graceMs, deleteBatch: config.archive.deleteBatch };
}
