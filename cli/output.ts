/** Output for admin commands: JSON (`--json`, one document on stdout) or aligned text, and errors. */
import { BackupError } from '../backup/engine/errors.js';
import { WalError } from '../backup/wal/errors.js';
import { AppError } from '../services/shared/errors.js';
import { CliError, EXIT, toCliError } from './context.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Print rows as an aligned text table with a header. */
export function printTable(rows: Record<string, string | number | null>[], columns: string[]): void {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  process.stdout.write(`${line(columns)}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => String(r[c] ?? '')))}\n`);
}

/** Parse an operator-given time: ISO-8601 (`2026-11-22T10:00:00Z`, `2026-11-22`) or epoch ms. */
export function parseTime(text: string, flag: string): number {
  if (/^\d{12,}$/.test(text)) return Number(text);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`${flag}: "${text}" is not a time (use ISO-8601 like 2026-11-22T10:00:00Z, or epoch milliseconds)`);
  return t;
}

/**
 * The one error path of every command (README "Admin CLI"): exit 0 ok, 1 the operation failed,
 * 2 bad usage or input, 78 invalid configuration (setup adds its own 10-15). Anything thrown is
 * mapped here, so commands just throw: CliError as it is; backup/WAL errors with their code and
 * status; AppError 400/422 (a value the operator typed: address, amount, ref) is bad input, other
 * AppErrors (conflicts, missing accounts, funds) a failed operation; the rest via toCliError.
 */
export function cliErrorOf(err: unknown): CliError & { details?: Record<string, unknown> } {
  if (err instanceof CliError) return err;
  if (err instanceof BackupError || err instanceof WalError) return Object.assign(new CliError(err.message, err.code, err.exitCode), err.details ? { details: err.details } : {});
  if (err instanceof AppError) return new CliError(err.message, err.code, err.status === 400 || err.status === 422 ? EXIT.usage : EXIT.failed);
  return toCliError(err);
}

/** `--json` was asked for (before a `--` end-of-options marker): errors go out as JSON too. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Report a failure and return the exit status. Text: one line on stderr,
 * `tapstack: error: <message> [<code>]`. JSON: one document on stdout,
 * `{"ok":false,"error":{"code","message","exitCode"[,"details"]}}`, nothing on stderr.
 */
export function reportError(err: unknown, json: boolean): number {
  const e = cliErrorOf(err);
  if (json) printJson({ ok: false, error: { code: e.code, message: e.message, exitCode: e.exitCode, ...(e.details ? { details: e.details } : {}) } });
  else process.stderr.write(`tapstack: error: ${e.message} [${e.code}]\n`);
  return e.exitCode;
}

/** Stable codes for commander's parse errors (all exit 2). */
export function usageCode(commanderCode: string): string {
  const known: Record<string, string> = {
    'commander.unknownCommand': 'unknown-command',
    'commander.unknownOption': 'unknown-option',
    'commander.missingArgument': 'missing-argument',
    'commander.missingMandatoryOptionValue': 'missing-option',
    'commander.optionMissingArgument': 'missing-option-value',
    'commander.excessArguments': 'excess-arguments',
    'commander.invalidArgument': 'invalid-argument',
    'commander.conflictingOption': 'conflicting-options',
  };
  return known[commanderCode] ?? 'usage';
}
