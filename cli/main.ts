/**
 * The admin CLI: `tapstack <command>`. Lives outside services/ because it also hosts the backup
 * commands (backup/), which services must not import (HOUSE-STYLE layout rules).
 */
import { Command, CommanderError } from 'commander';
import { registerAccount } from './commands/account.command.js';
import { registerBackup } from './commands/backup.command.js';
import { registerConfig } from './commands/config.command.js';
import { registerIntegrity } from './commands/integrity.command.js';
import { registerLedger } from './commands/ledger.command.js';
import { registerMigrate } from './commands/migrate.command.js';
import { registerSetup } from './commands/setup.command.js';
import { EXIT, createContext, toCliError } from './context.js';

const ctx = createContext(process.env);
const program = new Command('tapstack')
  .description('Tapstack admin CLI. Reads the same TAPSTACK_* settings as the services.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
registerAccount(program, ctx);
registerLedger(program, ctx);
registerIntegrity(program, ctx);
registerMigrate(program, ctx);
registerConfig(program, ctx);
registerSetup(program, ctx);
registerBackup(program, ctx);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; parse errors already printed their message.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const e = toCliError(err);
    process.stderr.write(`tapstack: error: ${e.message} [${e.code}]\n`);
    process.exitCode = e.exitCode;
  }
} finally {
  ctx.close();
}
