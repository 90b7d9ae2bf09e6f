/** Percentiles over every sample (no histogram buckets), and the number formats of the report. */

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Exact nearest-rank percentiles of the finite samples; NaN marks "no sample". */
export function summarise(samples: Float64Array | number[]): Summary {
  const v = Float64Array.from(samples).filter((x) => Number.isFinite(x)).sort();
  const n = v.length;
  if (n === 0) return { count: 0, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const at = (p: number) => v[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] as number;
  let sum = 0;
  for (const x of v) sum += x;
  return { count: n, p50: at(50), p90: at(90), p99: at(99), max: v[n - 1] as number, mean: sum / n };
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
export const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) : '—');
export const pct = (n: number) => (Number.isFinite(n) ? `${n.toFixed(0)} %` : '—');

/** A plain-text table: columns padded to their widest cell; numbers right-aligned. */
export function table(rows: string[][], rightAligned: number[] = []): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd())
    .join('\n');
}

/** Median (mean of the two middle values for an even count), min and max of the finite values. */
export function spread(values: number[]): { median: number; min: number; max: number; n: number } {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  return { median, min: v[0] as number, max: v[n - 1] as number, n };
}
