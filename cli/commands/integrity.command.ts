/** `tapstack integrity check`: balances equal their ledger sums and the hash chain is intact. */
import type { Command } from 'commander';
import { fetchWeek, remoteArchiveProblem } from '../../backup/archive/fetch.js';
import { checkArchives } from '../../backup/archive/integrity.js';
import { localWeekFile } from '../../backup/archive/local.js';
import { archiveSetup } from '../../backup/archive/setup.js';
import { checkIntegrity, type IntegrityReport } from '../../services/shared/integrity.js';
import { archiveCli } from './archive.command.js';
import { CliError, EXIT, type Context } from '../context.js';
import { printJson } from '../output.js';

export function registerIntegrity(program: Command, ctx: Context): void {
  const integrity = program.command('integrity').description('Verify the ledger');
  integrity
    .command('check')
    .description('Check that every balance equals the sum of its ledger rows and the hash chain is intact. Exit 1 on any problem.')
    .option('--json', 'print the full report as JSON')
    .option('--max-problems <n>', 'list at most this many problems', '100')
    .option('--archives', 'also walk genesis → every archived week (local, or fetched from the archive target) → the live ledger')
    .option('--identity <file>', 'with --archives: age identity file that decrypts archives not kept locally (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .action((opts: { json?: boolean; maxProblems: string; archives?: boolean; identity?: string[] }) => archiveCli(async () => {
      const maxListed = /^\d+$/.test(opts.maxProblems) ? Number(opts.maxProblems) : 0;
      if (maxListed < 1) throw new CliError(`--max-problems: "${opts.maxProblems}" is not a positive integer`, 'invalid-argument', EXIT.usage);
      let report: IntegrityReport & { archives?: { week: string; ok: boolean }[] };
      if (opts.archives) {
        const config = ctx.config();
        // Every stored object is read back (SHA-256); a week not local is also fetched and decrypted.
        const setup = archiveSetup(config, { identityFiles: opts.identity ?? [] });
        try {
          report = await checkArchives(ctx.db(), async (a) => localWeekFile(config.archive.dir, a.week) ?? fetchWeek(a, config.archive.dir, setup.target, setup.decryption), {
            maxListed,
            remote: (a) => remoteArchiveProblem(a, setup.target),
          });
        } finally {
          await setup.target.close?.();
        }
      } else report = checkIntegrity(ctx.db(), { maxListed });
      if (opts.json) printJson(report);
      else if (report.ok) {
        const across = report.archives ? ` across ${report.archives.length} archived week(s) and the live file` : '';
        process.stdout.write(`integrity OK: ${report.rows} ledger rows${across}, ${report.accounts} accounts, chain head #${report.head.seq} ${report.head.hash} (${report.durationMs} ms)\n`);
      } else {
        process.stdout.write(`INTEGRITY CHECK FAILED: ${report.problemCount} problem(s) in ${report.rows} ledger rows, ${report.accounts} accounts\n`);
        for (const p of report.problems) {
          const where = [p.seq !== undefined ? `row ${p.seq}` : '', p.address ?? ''].filter(Boolean).join(' ');
          process.stdout.write(`  - [${p.type}] ${where}: ${p.message}${p.expected !== undefined ? ` (expected ${p.expected}, found ${p.actual})` : ''}\n`);
        }
        if (report.problemCount > report.problems.length) process.stdout.write(`  ... and ${report.problemCount - report.problems.length} more\n`);
      }
      if (!report.ok) process.exitCode = EXIT.failed;
    }));
}
