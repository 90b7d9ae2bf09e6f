/** `tapstack config check|env-table`: validate settings before a start; print the docs table. */
import type { Command } from 'commander';
import { maskedConfig } from '../../services/shared/config.js';
import { envTableMarkdown } from '../../services/shared/config-doc.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';

export function registerConfig(program: Command, ctx: Context): void {
  const config = program.command('config').description('Inspect the configuration');
  config
    .command('check')
    .description('Validate the TAPSTACK_* settings and print the result with secrets masked')
    .option('--json', 'print the effective configuration as JSON')
    .action((opts: { json?: boolean }) => {
      const c = maskedConfig(ctx.config());
      if (opts.json) return printJson(c);
      process.stdout.write(`configuration OK\n${JSON.stringify(c, null, 2)}\n`);
    });
  config
    .command('env-table')
    .description('Print the Markdown table of every setting (as in the README)')
    .action(() => void process.stdout.write(`${envTableMarkdown()}\n`));
}
