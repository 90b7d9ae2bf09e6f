/** Output for admin commands: JSON (`--json`, one document on stdout) or aligned text. */

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
