/** `tapstack ledger query`: find ledger rows for disputes and audits. */
import type { Command } from 'commander';
import { normaliseAddress } from '../../services/shared/address.js';
import { formatAmount } from '../../services/shared/money.js';
import { queryLedgerWithArchives } from '../../backup/archive/query.js';
import { ledgerKinds } from '../../services/shared/repos/ledger.repo.js';
import { CliError, EXIT, type Context } from '../context.js';
import { parseTime, printJson, printTable } from '../output.js';
import { usage } from './account.command.js';

interface QueryOpts {
  address?: string;
  ref?: string;
  kind?: string;
  since?: string;
  until?: string;
  afterSeq?: string;
  limit: string;
  json?: boolean;
}

export function registerLedger(program: Command, ctx: Context): void {
  const ledger = program.command('ledger').description('Read the append-only ledger');
  ledger
    .command('query')
    .description('List ledger rows matching every given filter, oldest first (archived weeks kept locally included)')
    .option('--address <address>', 'rows of this account')
    .option('--ref <ref>', 'the row with this reference')
    .option('--kind <kind>', 'rows of this kind (credit, debit, demo-grant, bet-stake, ...)')
    .option('--since <time>', 'rows created at or after this time (ISO-8601 or epoch ms)')
    .option('--until <time>', 'rows created before this time (ISO-8601 or epoch ms)')
    .option('--after-seq <seq>', 'rows after this sequence number (paging)')
    .option('--limit <n>', 'at most this many rows', '100')
    .option('--json', 'print rows as JSON')
    .addHelpText('after', '\nExample: tapstack ledger query --address 0xAb58...aeC9B --since 2026-11-01 --until 2026-11-08')
    .action((opts: QueryOpts) => {
      const config = ctx.config();
      const limit = usage(() => positiveInt(opts.limit, '--limit'));
      const filter = {
        address: opts.address === undefined ? undefined : usage(() => normaliseAddress(opts.address as string)),
        ref: opts.ref,
        kind: opts.kind,
        since: opts.since === undefined ? undefined : usage(() => parseTime(opts.since as string, '--since')),
        until: opts.until === undefined ? undefined : usage(() => parseTime(opts.until as string, '--until')),
        afterSeq: opts.afterSeq === undefined ? undefined : usage(() => positiveInt(opts.afterSeq as string, '--after-seq', true)),
        limit,
      };
      const db = ctx.db();
      if (filter.kind !== undefined && !ledgerKinds(db).some((k) => k.kind === filter.kind)) {
        throw new CliError(`unknown kind "${filter.kind}"; kinds: ${ledgerKinds(db).map((k) => k.kind).join(', ')}`, 'invalid-argument', EXIT.usage);
      }
      const { rows, remoteWeeks } = queryLedgerWithArchives(db, config.archive.dir, filter);
      // Said on stderr, so --json output stays the same one array of rows.
      if (remoteWeeks.length) process.stderr.write(`note: archived week(s) ${remoteWeeks.join(', ')} are not local and were not searched: \`tapstack archive fetch <week>\` first\n`);
      if (opts.json) {
        return printJson(rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString(), meta: r.meta ? JSON.parse(r.meta) : null })));
      }
      if (rows.length === 0) return void process.stdout.write('no matching ledger rows\n');
      const d = config.currency.decimals;
      printTable(
        rows.map((r) => ({
          seq: r.seq,
          time: new Date(r.createdAt).toISOString(),
          address: r.address,
          kind: r.kind,
          amount: formatAmount(r.amount, d),
          balance: formatAmount(r.balanceAfter, d),
          ref: r.ref,
        })),
        ['seq', 'time', 'address', 'kind', 'amount', 'balance', 'ref'],
      );
      if (rows.length === limit) process.stdout.write(`(limit of ${limit} reached: continue with --after-seq ${rows.at(-1)?.seq})\n`);
    });
}

function positiveInt(text: string, flag: string, allowZero = false): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || (!allowZero && n === 0)) throw new Error(`${flag}: "${text}" is not a positive integer`);
  return n;
}
