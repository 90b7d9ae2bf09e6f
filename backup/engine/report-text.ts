/** Plain-text renderings of the engine's reports for `tapstack backup ...` (JSON is the report itself). */
import type { Catalog } from './catalog.js';
import type { CreateReport } from './create.js';
import { formatBytes, formatDuration } from './progress.js';
import type { PruneTargetResult } from './prune.js';
import type { RestorePlan, RestoreReport } from './restore.js';
import type { VerifyTargetResult } from './verify.js';

const iso = (ms: number | undefined) => (ms === undefined ? '?' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
export const ago = (ms: number, now = Date.now()) => `${formatDuration(now - ms)} ago`;

export function renderCreate(r: CreateReport): string {
  const s = r.snapshot;
  const lines = [
    `snapshot of ${iso(s.snapshotAt)}: ${s.files} files, ${formatBytes(s.totalBytes)}; SQLite copy ${s.sqlite.durationMs} ms (${s.sqlite.method}), Redis ${s.redis.status === 'ok' ? `${s.redis.keys} keys (${s.redis.source})` : `skipped: ${s.redis.reason}`}`,
  ];
  for (const n of r.notes) if (n !== s.redis.reason) lines.push(`  note: ${n}`);
  for (const t of r.targets) {
    if (t.status === 'failed') lines.push(`✗ ${t.target}: FAILED [${t.error?.code}] ${t.error?.message}`);
    else if (t.status === 'unchanged') lines.push(`= ${t.target}: unchanged since ${t.id}: nothing uploaded${t.kind === 'full' ? ` (${t.reusedChunks} stored chunks read back and checked)` : ''}`);
    else {
      lines.push(
        `✓ ${t.target}: ${t.kind} backup ${t.id}: ${t.uploadedChunks} chunk(s) uploaded (${formatBytes(t.uploadedBytes)}), ${t.reusedChunks} already stored${t.healedChunks ? `, ${t.healedChunks} repaired` : ''}, ${formatDuration(t.durationMs)}`,
      );
    }
    for (const n of t.notes) if (t.status !== 'unchanged' || !n.startsWith('nothing changed')) lines.push(`    note: ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderList(catalogs: ({ target: string; describe: string; catalog?: Catalog; error?: string })[], now = Date.now()): string {
  const out: string[] = [];
  for (const c of catalogs) {
    out.push(`${c.target} (${c.describe})`);
    if (c.error) {
      out.push(`  UNREACHABLE: ${c.error}`);
      continue;
    }
    const entries = c.catalog?.entries ?? [];
    if (entries.length === 0) out.push('  no backups');
    const rows = [...entries].reverse().map((e) => {
      const v = e.verify;
      const verified = !v ? 'never verified' : `${v.ok ? 'ok' : 'FAILED'} (${v.level}, ${ago(v.at, now)})`;
      const s = e.summary;
      // The ledger head of a format-2 backup is in its encrypted part: not shown without a key.
      const ledger = e.manifest ? `#${e.manifest.ledger.headSeq}` : '-';
      const signed = { ok: 'ok', bad: 'BAD', unchecked: 'unchecked', unsigned: 'unsigned (v1)' }[e.signature];
      return [e.id, s.kind, iso(s.snapshotAt), ago(s.snapshotAt, now), formatBytes(s.size), formatBytes(s.uploadedBytes), ledger, signed, verified];
    });
    if (rows.length) out.push(...table(['ID', 'KIND', 'SNAPSHOT', 'AGE', 'SIZE', 'UPLOADED', 'LEDGER', 'SIGNATURE', 'VERIFIED'], rows).map((l) => `  ${l}`));
    for (const d of c.catalog?.damaged ?? []) out.push(`  DAMAGED ${d.key}: ${d.error}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderVerify(results: VerifyTargetResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.status === 'no-backups') out.push(`- ${r.target}: no backups to verify`);
    else if (r.status === 'error' || r.status === 'wrong-key' || r.status === 'bad-signature') out.push(`✗ ${r.target}: ${{ 'wrong-key': 'WRONG KEY', 'bad-signature': 'BAD SIGNATURE', error: 'ERROR' }[r.status]} [${r.error?.code}] ${r.error?.message}`);
    else if (r.record) {
      const c = r.record.checks;
      const what = `${c.objects} objects read back${c.decryptedFiles !== undefined ? `, ${c.decryptedFiles} files decrypted and hashed` : ''}${c.drill ? ', restore drill run' : ''}`;
      out.push(`${r.record.ok ? '✓' : '✗'} ${r.target}: ${r.backupId}: ${r.record.ok ? 'OK' : 'FAILED'} (${r.record.level}: ${what}; ${formatDuration(r.record.durationMs)})`);
      for (const p of r.record.problems) out.push(`    - ${p}`);
      if (r.record.level === 'ciphertext') out.push('    (no identity given: ciphertext checked only; pass --identity FILE for decryption and the restore drill)');
    }
  }
  return `${out.join('\n')}\n`;
}

export function renderPlan(p: RestorePlan): string {
  const out = [
    `restore plan${p.requestedAt !== undefined ? ` for ${iso(p.requestedAt)}` : ''}:`,
    `  backup   ${p.backup.id} on ${p.target} (${p.backup.kind}, snapshot ${iso(p.backup.snapshotAt)}, ${formatBytes(p.backup.size)}, format ${p.backup.format.replace('tapstack-backup/', '')}, signature ${p.backup.signature}${p.backup.ledger ? `, schema ${p.backup.schemaVersion}, ledger #${p.backup.ledger.headSeq}` : ''})`,
    `  verified ${p.backup.verified ? `${p.backup.verified.ok ? 'ok' : 'FAILED'} (${p.backup.verified.level}, ${iso(p.backup.verified.at)})` : 'never'}`,
    `  restores the state of ${iso(p.restoresTo)}${p.shortfall ? ` (SHORT of the requested ${iso(p.requestedAt)}: ${p.shortfall.kind})` : ''}`,
    '  available window:',
    ...p.windows.map((w) =>
      w.error
        ? `    ${w.target}: unreachable (${w.error})`
        : w.backups
          ? `    ${w.target}: ${iso(w.from)} .. ${iso(w.to)} (${w.backups} backups${w.continuous ? `; continuous ${iso(w.continuous.from)} .. ${iso(w.continuous.to)}` : ''})`
          : `    ${w.target}: no backups`,
    ),
    '  files:',
    ...p.files.map((f) => `    ${f.name.padEnd(34)} ${formatBytes(f.size).padStart(10)}  -> ${f.dest ?? (f.kept ? `(not restored: keeping ${f.kept})` : '(skipped)')}`),
    `  data dir ${p.dataDir}; replaced files kept in ${p.rollbackDir}`,
    '  steps:',
    ...p.steps.map((s, i) => `    ${i + 1}. ${s}`),
    ...p.warnings.map((w) => `  warning: ${w}`),
  ];
  return `${out.join('\n')}\n`;
}

export function renderRestore(r: RestoreReport): string {
  const out = [
    `restored ${r.plan.backup.id} from ${r.plan.target} (state of ${iso(r.plan.restoresTo)}) into ${r.plan.dataDir}`,
    ...(r.shortfall ? [`  PARTIAL (--accept-gap): the state of ${iso(r.shortfall.reachedAt)}, not the requested ${iso(r.shortfall.requestedAt)} [${r.shortfall.kind}]`] : []),
    `  replaced files kept in ${r.plan.rollbackDir} (${r.moved.length} moved aside)`,
    `  migrations applied: ${r.migrationsApplied.length ? r.migrationsApplied.join(', ') : 'none'}`,
    r.integrity ? `  integrity ${r.integrity.ok ? 'OK' : 'FAILED'}: ${r.integrity.rows} ledger rows, ${r.integrity.accounts} accounts, head #${r.integrity.head.seq} ${r.integrity.head.hash}` : '  integrity: not run',
    ...(r.restartedPrograms.length ? [`  started again: ${r.restartedPrograms.join(', ')}`] : []),
    ...r.warnings.map((w) => `  warning: ${w}`),
  ];
  return `${out.join('\n')}\n`;
}

export function renderPrune(results: PruneTargetResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.status === 'error') {
      out.push(`✗ ${r.target}: ERROR [${r.error?.code}] ${r.error?.message}`);
      continue;
    }
    const verb = r.dryRun ? 'would remove' : 'removed';
    out.push(`${r.target}: keep ${r.keep.length}, ${verb} ${r.remove.length} backup(s) and ${r.unreferencedChunks} unreferenced chunk(s) (${formatBytes(r.unreferencedBytes)})`);
    for (const k of r.keep) out.push(`    keep   ${k.id}  (${k.reasons.join(', ')})`);
    for (const x of r.remove) out.push(`    ${r.dryRun ? 'would remove' : 'remove'} ${x.id}  (${formatBytes(x.size)})`);
    for (const n of r.notes) out.push(`    note: ${n}`);
  }
  return `${out.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
