/** `tapstack account credit|debit|show`: manual money movements, idempotent on --ref. */
import type { Command } from 'commander';
import { adminMovement } from '../../services/shared/accounts.js';
import { AppError } from '../../services/shared/errors.js';
import { normaliseAddress } from '../../services/shared/address.js';
import { formatAmount, parseAmount } from '../../services/shared/money.js';
import { findUser } from '../../services/shared/repos/users.repo.js';
import { CliError, EXIT, type Context } from '../context.js';
import { printJson } from '../output.js';

interface MoveOpts {
  ref: string;
  note?: string;
  json?: boolean;
}

export function registerAccount(program: Command, ctx: Context): void {
  const account = program.command('account').description('Credit, debit and inspect player accounts');

  for (const direction of ['credit', 'debit'] as const) {
    account
      .command(`${direction} <address> <amount>`)
      .description(
        direction === 'credit'
          ? 'Add money to an account (creating it if needed). Idempotent: repeating a --ref changes nothing.'
          : 'Take money from an account. Never takes a balance below zero. Idempotent on --ref.',
      )
      .requiredOption('--ref <external-ref>', 'your unique reference (payment id, ticket number): a repeat with the same ref is a no-op')
      .option('--note <text>', 'free text stored with the ledger row')
      .option('--json', 'print the result as JSON')
      .addHelpText('after', `\nAmount is in currency units with at most TAPSTACK_CURRENCY_DECIMALS decimals, e.g. 25 or 12.50.\nExample: tapstack account ${direction} 0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B 25.00 --ref deposit-7731`)
      .action(async (addressArg: string, amountArg: string, opts: MoveOpts) => {
        const config = ctx.config();
        const address = usage(() => normaliseAddress(addressArg));
        const amount = usage(() => parseAmount(amountArg, config.currency.decimals));
        if (amount === 0) throw new CliError('amount must be greater than zero', 'invalid-amount', EXIT.usage);
        const db = ctx.db();
        const fmt = (n: number) => `${formatAmount(n, config.currency.decimals)} ${config.currency.code}`;
        let result;
        try {
          result = adminMovement(db, { address, direction, amount, ref: opts.ref, note: opts.note, operator: ctx.operator }, Date.now());
        } catch (err) {
          if (err instanceof AppError && err.code === 'insufficient-funds') {
            const balance = Number(err.details?.balance ?? 0);
            throw new CliError(`insufficient funds: ${address} has ${fmt(balance)}, cannot debit ${fmt(amount)}; nothing changed`, err.code);
          }
          throw err;
        }
        const { entry, replayed } = result;
        const balance = findUser(db, address)?.balance ?? 0;
        const warning = replayed ? undefined : await ctx.invalidateBalance(address);
        if (warning) process.stderr.write(`tapstack: warning: ${warning}\n`);
        if (opts.json) {
          printJson({ applied: !replayed, seq: entry.seq, address, kind: entry.kind, amount: entry.amount, ref: entry.ref, balanceAfter: entry.balanceAfter, balance, hash: entry.hash, currency: config.currency });
          return;
        }
        const verb = direction === 'credit' ? 'credited' : 'debited';
        if (replayed) process.stdout.write(`already applied: ref ${entry.ref} is ledger row ${entry.seq}; nothing changed. Balance of ${address}: ${fmt(balance)}\n`);
        else process.stdout.write(`${verb} ${fmt(amount)} ${direction === 'credit' ? 'to' : 'from'} ${address} (ref ${entry.ref}, ledger row ${entry.seq}). Balance: ${fmt(balance)}\n`);
      });
  }

  account
    .command('show <address>')
    .description('Show an account and its balance')
    .option('--json', 'print the result as JSON')
    .action((addressArg: string, opts: { json?: boolean }) => {
      const config = ctx.config();
      const address = usage(() => normaliseAddress(addressArg));
      const user = findUser(ctx.db(), address);
      if (!user) throw new CliError(`no account for ${address}`, 'unknown-account');
      if (opts.json) return printJson({ address, balance: user.balance, createdAt: new Date(user.createdAt).toISOString(), currency: config.currency });
      process.stdout.write(`${address}\n  balance  ${formatAmount(user.balance, config.currency.decimals)} ${config.currency.code}\n  since    ${new Date(user.createdAt).toISOString()}\n`);
    });
}

/** Run a parser of operator input; its error becomes a usage error (exit 2). */
export function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new CliError((err as Error).message, 'invalid-argument', EXIT.usage);
  }
}
