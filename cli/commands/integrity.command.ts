/** `tapstack integrity check`: balances equal their ledger sums and the hash chain is intact. */
import type { Command } from 'commander';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { CliError, EXIT, type Context } from '../context.js';
import { printJson } from '../output.js';

export function registerIntegrity(program: Command, ctx: Context): void {
  const integrity = program.command('integrity').description('Verify the ledger');
  integrity
    .command('check')
    .description('Check that every balance equals the sum of its ledger rows and the hash chain is intact. Exit 1 on any problem.')
    .option('--json', 'print the full report as JSON')
    .option('--max-problems <n>', 'list at most this many problems', '100')
    .action((opts: { json?: boolean; maxProblems: string }) => {
      const maxListed = /^\d+$/.test(opts.maxProblems) ? Number(opts.maxProblems) : 0;
      if (maxListed < 1) throw new CliError(`--max-problems: "${opts.maxProblems}" is not a positive integer`, 'invalid-argument', EXIT.usage);
      const report = checkIntegrity(ctx.db(), { maxListed });
      if (opts.json) printJson(report);
      else if (report.ok) {
        process.stdout.write(`integrity OK: ${report.rows} ledger rows, ${report.accounts} accounts, chain head #${report.head.seq} ${report.head.hash} (${report.durationMs} ms)\n`);
      } else {
        process.stdout.write(`INTEGRITY CHECK FAILED: ${report.problemCount} problem(s) in ${report.rows} ledger rows, ${report.accounts} accounts\n`);
        for (const p of report.problems) {
          const where = [p.seq !== undefined ? `row ${p.seq}` : '', p.address ?? ''].filter(Boolean).join(' ');
          process.stdout.write(`  - [${p.type}] ${where}: ${p.message}${p.expected !== undefined ? ` (expected ${p.expected}, found ${p.actual})` : ''}\n`);
        }
        if (report.problemCount > report.problems.length) process.stdout.write(`  ... and ${report.problemCount - report.problems.length} more\n`);
      }
      if (!report.ok) process.exitCode = EXIT.failed;
    });
}
