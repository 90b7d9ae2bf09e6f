/** `tapstack account credit|debit|show`: manual money movements, idempotent on --ref. */
import type { Command } from 'commander';
import { adminMovementRequest } from '../../services/shared/accounts.js';
import { AppError } from '../../services/shared/errors.js';
import { normaliseAddress } from '../../services/shared/address.js';
import { formatAmount, parseAmount } from '../../services/shared/money.js';
import { findUser } from '../../services/shared/repos/users.repo.js';
import { CliError, EXIT, type Context } from '../context.js';
import { printJson } from '../output.js';

interface MoveOpts {
  ref: string;
  timeout?: string;
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
      .option('--timeout <seconds>', 'how long to wait for the running writer to commit it', '10')
      .addHelpText('after', `\nAmount is in currency units with at most TAPSTACK_CURRENCY_DECIMALS decimals, e.g. 25 or 12.50.\nExample: tapstack account ${direction} 0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B 25.00 --ref deposit-7731`)
      .action(async (addressArg: string, amountArg: string, opts: MoveOpts) => {
        const config = ctx.config();
        const address = usage(() => normaliseAddress(addressArg));
        const amount = usage(() => parseAmount(amountArg, config.currency.decimals));
        if (amount === 0) throw new CliError('amount must be greater than zero', 'invalid-amount', EXIT.usage);
        const timeoutSeconds = Number(opts.timeout ?? 10);
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new CliError('--timeout must be a positive number of seconds', 'invalid-argument', EXIT.usage);
        let request;
        try {
          request = adminMovementRequest({ address, direction, amount, ref: opts.ref, note: opts.note, operator: ctx.operator });
        } catch (err) {
          if (err instanceof AppError) throw new CliError(err.message, err.code, EXIT.usage);
          throw err;
        }
        const fmt = (n: number) => `${formatAmount(n, config.currency.decimals)} ${config.currency.code}`;
        let moved;
        try {
          moved = await ctx.moveMoney(request, { timeoutMs: timeoutSeconds * 1000 });
        } catch (err) {
          if (err instanceof AppError && err.code === 'insufficient-funds') {
            const balance = Number(err.details?.balance ?? 0);
            throw new CliError(`insufficient funds: ${address} has ${fmt(balance)}, cannot debit ${fmt(amount)}; nothing changed`, err.code);
          }
          throw err;
        }
        if (opts.json) {
          printJson({ applied: moved.applied, seq: moved.seq, address, kind: moved.kind, amount: moved.amount, ref: moved.ref, balanceAfter: moved.balanceAfter, balance: moved.balance, hash: moved.hash, committedBy: moved.committedBy, currency: config.currency });
          return;
        }
        const verb = direction === 'credit' ? 'credited' : 'debited';
        if (!moved.applied) process.stdout.write(`already applied: ref ${moved.ref} is ledger row ${moved.seq}; nothing changed. Balance of ${address}: ${fmt(moved.balance)}\n`);
        else process.stdout.write(`${verb} ${fmt(amount)} ${direction === 'credit' ? 'to' : 'from'} ${address} (ref ${moved.ref}, ledger row ${moved.seq}, committed by the ${moved.committedBy === 'writer' ? 'writer' : 'CLI: no writer was running'}). Balance: ${fmt(moved.balance)}\n`);
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
