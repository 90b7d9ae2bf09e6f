/** Money and prices are integers (minor units, cents); these only format them for people. */

export interface Currency {
  code: string;
  decimals: number;
}

const group = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** 123456 minor units, 2 decimals → "1,234.56" (exact: no floating point). */
export function formatUnits(minor: number, decimals: number): string {
  const neg = minor < 0;
  const s = String(Math.abs(Math.trunc(minor))).padStart(decimals + 1, '0');
  const whole = decimals > 0 ? s.slice(0, -decimals) : s;
  const frac = decimals > 0 ? `.${s.slice(-decimals)}` : '';
  return `${neg ? '−' : ''}${group(whole)}${frac}`;
}

export function formatMoney(minor: number, c: Currency): string {
  const symbol = c.code === 'USD' ? '$' : '';
  const neg = minor < 0;
  const body = formatUnits(Math.abs(minor), c.decimals);
  return symbol ? `${neg ? '−' : ''}${symbol}${body}` : `${neg ? '−' : ''}${body} ${c.code}`;
}

/** "12.5" or "12,50"-free input in currency units → minor units; undefined if not a plain amount. */
export function parseUnits(text: string, decimals: number): number | undefined {
  const m = /^\s*(\d{1,12})(?:[.,](\d*))?\s*$/.exec(text);
  if (!m) return undefined;
  const frac = (m[2] ?? '').slice(0, decimals).padEnd(decimals, '0');
  if ((m[2] ?? '').length > decimals && /[1-9]/.test((m[2] ?? '').slice(decimals))) return undefined;
  return Number(m[1]) * 10 ** decimals + (decimals ? Number(frac) : 0);
}

/** Price in cents → "$100,012.34"; `short` drops the cents when they are zero. */
export function formatPrice(cents: number, short = false): string {
  const body = formatUnits(cents, 2);
  return `$${short && body.endsWith('.00') ? body.slice(0, -3) : body}`;
}

/** 411 → "4.11×". */
export const formatMultiplier = (multiplierCents: number) => `${formatUnits(multiplierCents, 2)}×`;

/** Clock time "12:00:05" (local). */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export const shortAddress = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;
