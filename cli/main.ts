/**
 * The admin CLI: `tapstack <command>`. Lives outside services/ because it also hosts the backup
 * commands (backup/), which services must not import (HOUSE-STYLE layout rules).
 * Every failure leaves through cli/output.ts `reportError`: exit 0/1/2/78 (README "Admin CLI"),
 * and with `--json` one `{"ok":false,"error":{code,message,exitCode}}` document on stdout.
 */
import { Command, CommanderError } from 'commander';
import { registerAccount } from './commands/account.command.js';
import { registerArchive } from './commands/archive.command.js';
import { registerBackup } from './commands/backup.command.js';
import { registerConfig } from './commands/config.command.js';
import { registerIntegrity } from './commands/integrity.command.js';
import { registerLedger } from './commands/ledger.command.js';
import { registerMigrate } from './commands/migrate.command.js';
import { registerSetup } from './commands/setup.command.js';
import { CliError, EXIT, createContext } from './context.js';
import { reportError, usageCode, wantsJson } from './output.js';

const json = wantsJson(process.argv.slice(2));
const ctx = createContext(process.env);
const program = new Command('tapstack')
  .description('Tapstack admin CLI. Reads the same TAPSTACK_* settings as the services.')
  // A parse error is reported once, below, like every other error (with --json: as JSON on
  // stdout, and nothing on stderr, not even the help a bare `tapstack account` prints).
  .configureOutput({ outputError: () => undefined, ...(json ? { writeErr: () => undefined } : {}) })
  .exitOverride();
registerAccount(program, ctx);
registerLedger(program, ctx);
registerIntegrity(program, ctx);
registerMigrate(program, ctx);
registerConfig(program, ctx);
registerSetup(program, ctx);
registerBackup(program, ctx);
registerArchive(program, ctx);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help exits 0; anything else commander refuses is bad usage (exit 2).
    if (err.exitCode === 0) process.exitCode = EXIT.ok;
    else {
      const message = err.code === 'commander.help' ? 'a command is required' : err.message.replace(/^error: /, '');
      process.exitCode = reportError(new CliError(`${message}${json ? '' : ' (run with --help for usage)'}`, usageCode(err.code), EXIT.usage), json);
    }
  } else {
    process.exitCode = reportError(err, json);
  }
} finally {
  ctx.close();
}
