/**
 * Errors of the age layer. Callers and tests branch on `code`; `message` is prose for an operator.
 *   wrong-key    no identity / passphrase opens any stanza of the header
 *   corrupt      the bytes were modified: bad header syntax, header MAC or chunk tag mismatch, data
 *                after the final chunk (also: a final chunk cut mid-way when no size was given —
 *                see `DecryptOptions.plaintextSize`)
 *   truncated    the file ends before its final chunk (inside the header, the nonce, at a chunk
 *                boundary, or short of the size the caller said to expect)
 *   bad-key      a malformed `AGE-SECRET-KEY-1…` / `age1…` string
 *   bad-spec     an encryption/decryption spec that cannot work (nothing to encrypt to, recipients
 *                together with a passphrase)
 *   unsupported  valid age, but not something this implementation reads (armor, huge scrypt cost)
 */
export type AgeErrorCode = 'wrong-key' | 'corrupt' | 'truncated' | 'bad-key' | 'bad-spec' | 'unsupported';

export class AgeError extends Error {
  readonly code: AgeErrorCode;

  constructor(code: AgeErrorCode, message: string) {
    super(message);
    this.name = 'AgeError';
    this.code = code;
  }
}

export const isAgeError = (err: unknown, code?: AgeErrorCode): err is AgeError =>
  err instanceof AgeError && (code === undefined || err.code === code);
