/**
 * Errors every target throws. Callers (engine, CLI, tests) branch on `code`, never on the message.
 *   ENOENT          the object does not exist (get); the spelling is the contract's (`err.code`)
 *   invalid-key     a key or prefix is not a safe relative path (see keys.ts)
 *   invalid-config  the target spec is unusable (e.g. an access key id without a secret file)
 *   unreachable     the target cannot be reached: connection refused, DNS, timeout, missing mount
 *   auth-failed     the target refused our credentials (or, for ssh, the host key did not verify)
 *   size-mismatch   put: the stream yielded a different number of bytes than `opts.size`
 *   failed          anything else the target reported
 * The message always names the target and the operation, and never contains a secret.
 */
export type TargetErrorCode = 'ENOENT' | 'invalid-key' | 'invalid-config' | 'unreachable' | 'auth-failed' | 'size-mismatch' | 'failed';

export class TargetError extends Error {
  readonly code: TargetErrorCode;

  constructor(code: TargetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TargetError';
    this.code = code;
  }
}

/** Codes for which trying again cannot help. */
const PERMANENT: ReadonlySet<TargetErrorCode> = new Set(['ENOENT', 'invalid-key', 'invalid-config', 'auth-failed']);

export function isRetryable(err: unknown): boolean {
  return !(err instanceof TargetError && PERMANENT.has(err.code));
}

/** Node's network error codes that mean "nobody answered" rather than "the server said no". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED',
]);

export function isNetworkError(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; errors?: unknown[] } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError') return true;
  // Node's happy-eyeballs connect reports an AggregateError of per-address failures.
  return Array.isArray(e.errors) && e.errors.some(isNetworkError);
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
