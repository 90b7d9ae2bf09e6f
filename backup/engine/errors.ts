/**
 * Errors of the backup engine: a stable `code` (tests and scripts branch on it), an operator-facing
 * message that names the object or file involved, and the CLI exit status.
 *   78 the configuration is invalid or incomplete (backup config file, no recipients, the
 *      TAPSTACK_BACKUP_* keys): EX_CONFIG, as for any invalid TAPSTACK_* setting
 *   2  bad usage or input: a flag the operator must change (--identity unreadable, --target unknown)
 *   1  the run failed (a target down, a damaged object, a failed drill, a wrong key)
 */
export const EXIT_CONFIG = 78;

export class BackupError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = 1,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

/** A short, single-line description of anything thrown (for per-target results and logs). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
