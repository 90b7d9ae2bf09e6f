/**
 * Money is an integer of minor units (10^-decimals of the currency), never a float.
 * These helpers convert between operator-facing decimal strings and minor units exactly.
 */

/** Largest balance or amount we accept: keeps every sum exact in a JS number and in SQLite. */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;

/**
 * Parse a decimal string in currency units ("12", "12.5", "0.01") into minor units.
 * Throws with a clear message on anything else (signs, exponents, too many decimals, overflow).
 */
export function parseAmount(text: string, decimals: number): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not an amount: use digits with an optional decimal point, e.g. 12.50`);
  const whole = m[1] as string;
  const frac = m[2] ?? '';
  if (frac.length > decimals) {
    throw new Error(`"${text}" has more than ${decimals} decimal place${decimals === 1 ? '' : 's'}`);
  }
  const minor = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
  if (minor > BigInt(MAX_AMOUNT)) throw new Error(`"${text}" is too large`);
  return Number(minor);
}

/** Format minor units as a decimal string in currency units, e.g. 1250 with 2 decimals -> "12.50". */
export function formatAmount(minor: number, decimals: number): string {
  if (!Number.isSafeInteger(minor)) throw new Error(`amount ${minor} is not a safe integer`);
  const sign = minor < 0 ? '-' : '';
  const digits = Math.abs(minor).toString().padStart(decimals + 1, '0');
  if (decimals === 0) return sign + digits;
  return `${sign}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}
