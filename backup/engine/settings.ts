/**
 * The backup configuration file (TAPSTACK_BACKUP_CONFIG_FILE, default `<data>/backup.json`):
 * targets with their schedules and retention, and the restore-drill schedule. Validated with zod;
 * a bad file fails listing *every* problem at once (HOUSE-STYLE 1). Relative paths inside the file
 * resolve against the file's own directory. DEPLOY.md "Backups and disaster recovery" documents it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { validate as validCron } from 'node-cron';
import { z } from 'zod';
import type { TargetSpec } from '../contracts.js';
import { BackupError, EXIT_CONFIG } from './errors.js';

export const DEFAULT_FULL_CRON = '15 2 * * *';
export const DEFAULT_INCREMENTAL_CRON = '0 * * * *';
export const DEFAULT_DRILL_CRON = '45 4 * * *';

export interface Retention {
  keepLast: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
  /** Keep every backup taken within this long before the newest one (ms); 0 = off. */
  keepWithinMs: number;
}

export const DEFAULT_RETENTION: Retention = { keepLast: 3, hourly: 24, daily: 7, weekly: 4, monthly: 6, keepWithinMs: 0 };

export interface TargetSettings {
  spec: TargetSpec;
  name: string;
  enabled: boolean;
  /** Cron (UTC) of full snapshots. */
  schedule: string;
  /** Cron (UTC) of incremental snapshots; '' = none. */
  incrementalSchedule: string;
  retention: Retention;
}

export interface BackupSettings {
  /** The file these settings came from ('' when none exists: no targets). */
  file: string;
  targets: TargetSettings[];
  /** Cron (UTC) of the scheduled verify + restore drill; '' = never. */
  drill: string;
}

const cron = z.string().refine((c) => validCron(c), 'not a valid cron expression (5 or 6 fields, UTC)');
const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lowercase letters, digits, - and _ (at most 40)');
const count = z.number().int().min(0).max(100_000);
const duration = z.string().regex(/^(\d+[smhdwy])+$/, 'a duration such as 36h, 7d, 2w, 1y');

const retention = z
  .object({ keepLast: count, hourly: count, daily: count, weekly: count, monthly: count, keepWithin: duration })
  .partial()
  .strict();

const common = {
  name,
  enabled: z.boolean().default(true),
  schedule: cron.default(DEFAULT_FULL_CRON),
  incrementalSchedule: z.union([cron, z.literal('')]).default(DEFAULT_INCREMENTAL_CRON),
  retention: retention.default({}),
};

const target = z.discriminatedUnion('type', [
  z.object({ type: z.literal('local'), path: z.string().min(1), ...common }).strict(),
  z
    .object({
      type: z.literal('s3'),
      bucket: z.string().min(3),
      prefix: z.string().optional(),
      region: z.string().min(1).default('us-east-1'),
      endpoint: z.url().optional(),
      forcePathStyle: z.boolean().optional(),
      storageClass: z.string().optional(),
      accessKeyId: z.string().optional(),
      secretAccessKeyFile: z.string().optional(),
      partSize: z.number().int().min(1024 * 1024).optional(),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('rsync'),
      url: z.string().regex(/^(rsync|ssh):\/\/[^/\s]+\/\S*$/, 'rsync://[user@]host[:port]/module/path or ssh://[user@]host[:port]/path'),
      passwordFile: z.string().optional(),
      sshKeyFile: z.string().optional(),
      knownHostsFile: z.string().optional(),
      ...common,
    })
    .strict(),
]);

const fileSchema = z
  .object({
    $schema: z.string().optional(),
    targets: z.array(target).default([]),
    drill: z.union([cron, z.literal('')]).default(DEFAULT_DRILL_CRON),
  })
  .strict();

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/** `7d`, `36h`, `1w2d` → milliseconds. */
export function parseDuration(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(/(\d+)([smhdwy])/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return ms;
}

/** Validate a parsed JSON document; `baseDir` resolves relative paths. Throws listing every problem. */
export function parseBackupSettings(doc: unknown, file: string, baseDir: string = path.dirname(file)): BackupSettings {
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(file)'}: ${i.message}`);
    throw settingsError(file, problems);
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(baseDir, p));
  const targets = parsed.data.targets.map((t, i): TargetSettings => {
    if (seen.has(t.name)) problems.push(`targets.${i}.name: "${t.name}" is used by two targets`);
    seen.add(t.name);
    const r = t.retention;
    const keepWithinMs = r.keepWithin ? parseDuration(r.keepWithin) : DEFAULT_RETENTION.keepWithinMs;
    const ret: Retention = {
      keepLast: r.keepLast ?? DEFAULT_RETENTION.keepLast,
      hourly: r.hourly ?? DEFAULT_RETENTION.hourly,
      daily: r.daily ?? DEFAULT_RETENTION.daily,
      weekly: r.weekly ?? DEFAULT_RETENTION.weekly,
      monthly: r.monthly ?? DEFAULT_RETENTION.monthly,
      keepWithinMs,
    };
    if (ret.keepLast + ret.hourly + ret.daily + ret.weekly + ret.monthly === 0 && keepWithinMs === 0) {
      problems.push(`targets.${i}.retention: every rule is 0, which would keep nothing but the newest backup; set at least one`);
    }
    const mustRead = (field: string, p: string | undefined) => {
      if (p === undefined) return;
      try {
        fs.accessSync(p, fs.constants.R_OK);
      } catch (err) {
        problems.push(`targets.${i}.${field}: cannot read ${p} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    };
    let spec: TargetSpec;
    if (t.type === 'local') {
      spec = { type: 'local', name: t.name, path: path.resolve(baseDir, t.path) };
    } else if (t.type === 's3') {
      spec = {
        type: 's3',
        name: t.name,
        bucket: t.bucket,
        prefix: t.prefix,
        region: t.region,
        endpoint: t.endpoint,
        forcePathStyle: t.forcePathStyle,
        storageClass: t.storageClass,
        accessKeyId: t.accessKeyId,
        secretAccessKeyFile: abs(t.secretAccessKeyFile),
        partSize: t.partSize,
      };
      if (Boolean(t.accessKeyId) !== Boolean(t.secretAccessKeyFile)) problems.push(`targets.${i}: set accessKeyId and secretAccessKeyFile together (or neither, for the SDK's default credentials)`);
      mustRead('secretAccessKeyFile', spec.secretAccessKeyFile);
    } else {
      spec = { type: 'rsync', name: t.name, url: t.url, passwordFile: abs(t.passwordFile), sshKeyFile: abs(t.sshKeyFile), knownHostsFile: abs(t.knownHostsFile) };
      if (t.url.startsWith('ssh://') && !t.sshKeyFile) problems.push(`targets.${i}.sshKeyFile: required for ssh:// targets (a key without a passphrase, ideally restricted with rrsync)`);
      if (t.url.startsWith('rsync://') && t.sshKeyFile) problems.push(`targets.${i}.sshKeyFile: only for ssh:// targets`);
      mustRead('passwordFile', spec.passwordFile);
      mustRead('sshKeyFile', spec.sshKeyFile);
      mustRead('knownHostsFile', spec.knownHostsFile);
    }
    return { spec, name: t.name, enabled: t.enabled, schedule: t.schedule, incrementalSchedule: t.incrementalSchedule, retention: ret };
  });
  if (problems.length) throw settingsError(file, problems);
  return { file, targets, drill: parsed.data.drill };
}

/** Read and validate the backup config file; a missing file means "no targets" (not an error). */
export function loadBackupSettings(file: string): BackupSettings {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file: '', targets: [], drill: '' };
    throw new BackupError('backup-config-unreadable', `cannot read the backup config ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, EXIT_CONFIG);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw settingsError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseBackupSettings(doc, file);
}

function settingsError(file: string, problems: string[]): BackupError {
  return new BackupError(
    'invalid-backup-config',
    `invalid backup config ${file} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    EXIT_CONFIG,
    { problems },
  );
}

/** The targets a command acts on: `--target NAME` (must exist) or every enabled one. */
export function selectTargets(settings: BackupSettings, only?: string): TargetSettings[] {
  if (only) {
    const t = settings.targets.find((x) => x.name === only);
    if (!t) {
      const names = settings.targets.map((x) => x.name).join(', ') || 'none';
      throw new BackupError('unknown-target', `no backup target named "${only}" in ${settings.file || 'the backup config'} (targets: ${names})`, 2);
    }
    return [t];
  }
  const enabled = settings.targets.filter((t) => t.enabled);
  if (enabled.length === 0) {
    throw new BackupError(
      'no-targets',
      settings.file
        ? `no enabled target in ${settings.file}`
        : 'no backup config: create one (DEPLOY.md "Backups and disaster recovery") at TAPSTACK_BACKUP_CONFIG_FILE or <data dir>/backup.json',
      EXIT_CONFIG,
    );
  }
  return enabled;
}
