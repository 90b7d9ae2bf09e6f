/** `tapstack setup`: prepare the installation before the processes start (cli/setup/setup.ts). */
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { printJson } from '../output.js';
import { runSetup } from '../setup/setup.js';

export function registerSetup(program: Command, ctx: Context): void {
  program
    .command('setup')
    .description(
      'Verify the data volume, generate secrets and the TLS certificate, render nginx/redis configs and migrate ' +
        '(run by the entrypoint before every start; safe to repeat). Exit codes: 10 data dir missing, 11 not a mount point, ' +
        '12 not writable, 13 low space, 14 unmarked or forgotten volume (override TAPSTACK_ALLOW_UNMARKED_DATA=true), ' +
        '15 bad TLS material, 78 invalid configuration',
    )
    .option('--json', 'print what each step did as JSON')
    .action((opts: { json?: boolean }) => {
      // A refusal is thrown: cli/output.ts reports it (exit 10-15/78; with --json as one document).
      const report = runSetup(ctx.config(), process.env);
      if (opts.json) return printJson(report);
      for (const s of report.steps) process.stdout.write(`tapstack setup: ${s.status.padEnd(7)} ${s.step.padEnd(15)} ${s.detail}\n`);
      for (const w of report.warnings) process.stderr.write(`tapstack setup: warning: ${w}\n`);
      process.stdout.write(`tapstack setup: ready (install ${report.installId})\n`);
    });
}
