/** `tapstack migrate`: create or upgrade the database schema. */
import type { Command } from 'commander';
import { migrate, migrationStatus } from '../../services/shared/db/migrate.js';
import type { Context } from '../context.js';
import { printJson } from '../output.js';

export function registerMigrate(program: Command, ctx: Context): void {
  program
    .command('migrate')
    .description('Create the database if missing and apply pending migrations (safe to repeat)')
    .option('--status', 'only show the schema version and pending migrations')
    .option('--json', 'print the result as JSON')
    .action((opts: { status?: boolean; json?: boolean }) => {
      const db = ctx.db({ allowOutdated: true, create: !opts.status });
      const before = migrationStatus(db);
      const applied = opts.status ? [] : migrate(db);
      const after = migrationStatus(db);
      if (opts.json) return printJson({ file: db.file, before: before.current, current: after.current, latest: after.latest, applied, pending: after.pending.map((m) => m.id) });
      if (opts.status) {
        process.stdout.write(`${db.file}: schema ${after.current} of ${after.latest}${after.pending.length ? `; pending: ${after.pending.map((m) => `${m.id}-${m.name}`).join(', ')}` : ' (current)'}\n`);
      } else {
        process.stdout.write(applied.length ? `${db.file}: applied migrations ${applied.join(', ')}; schema now ${after.current}\n` : `${db.file}: schema ${after.current} is current; nothing to do\n`);
      }
    });
}
