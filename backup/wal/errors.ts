/**
 * Errors of continuous WAL shipping and point-in-time restore. Callers branch on `code`, never on
 * the message; the message names the object or file involved.
 *   before-window     the requested time is older than the oldest restorable point
 *   in-gap            the requested time falls where changes were lost (a discontinuity between
 *                     two generations); the message names the restorable points on both sides
 *   no-backups        the target holds no complete WAL generation
 *   missing-segment   a segment the restore needs is absent (a hole in the index sequence);
 *                     thrown after replaying what precedes it, `details.shortfall` says where
 *   corrupt-segment   a segment failed decryption, its checksum, or the WAL checksum chain
 *                     (as missing-segment when found during a restore)
 *   corrupt-base      the base snapshot failed decryption or its size/SHA-256
 *   integrity         the restored database failed `PRAGMA integrity_check`
 *   wrong-key         no identity/passphrase given can decrypt the objects
 *   not-wal           the live database is not in WAL mode
 *   exists            the restore output file already exists
 */
export type WalErrorCode =
  | 'before-window'
  | 'in-gap'
  | 'no-backups'
  | 'missing-segment'
  | 'corrupt-segment'
  | 'corrupt-base'
  | 'integrity'
  | 'wrong-key'
  | 'not-wal'
  | 'exists';

export class WalError extends Error {
  readonly code: WalErrorCode;
  /** CLI exit status, as BackupError: 2 = the operator must change something, 1 = failed. */
  readonly exitCode: number;
  /** Machine-readable facts for `--json` (e.g. the gap a restore stopped at). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: WalErrorCode, message: string, options?: { cause?: unknown; exitCode?: number; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WalError';
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
    this.details = options?.details;
  }
}

export const isWalError = (err: unknown, code?: WalErrorCode): err is WalError =>
  err instanceof WalError && (code === undefined || err.code === code);
