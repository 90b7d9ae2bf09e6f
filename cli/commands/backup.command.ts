/**
 * `tapstack backup create|list|verify|restore|prune|keygen`: the operator's whole backup
 * experience. The engine lives in backup/engine; this file parses flags, wires the run, renders.
 * Exit codes: 0 ok, 1 a run failed (a target, a check, a wrong key, a gap in the WAL chain), 2 bad
 * usage or input (flags, --identity unreadable, no identity given), 78 invalid or incomplete
 * configuration (TAPSTACK_* settings, the backup config file, no recipients). Errors are reported
 * by cli/output.ts (text on stderr, or one JSON document with --json).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createWalPointInTime } from '../../backup/wal/index.js';
import { loadCatalog } from '../../backup/engine/catalog.js';
import { scratchDir } from '../../backup/engine/lock.js';
import { createBackup, type BackupKind } from '../../backup/engine/create.js';
import { decryptionSpec, requireDecryptionSpec, signingTrust } from '../../backup/engine/encryption-spec.js';
import { installPublicKey } from '../../backup/engine/install-keys.js';
import { openEntry, type CatalogEntry } from '../../backup/engine/catalog.js';
import { createCliProgress, silentProgress, type Progress } from '../../backup/engine/progress.js';
import { pruneTargets } from '../../backup/engine/prune.js';
import { renderCreate, renderList, renderPlan, renderPrune, renderRestore, renderVerify } from '../../backup/engine/report-text.js';
import { restoreBackup } from '../../backup/engine/restore.js';
import { loadBackupSettings, selectTargets, type BackupSettings } from '../../backup/engine/settings.js';
import { closeTarget, openTarget } from '../../backup/engine/targets.js';
import { verifyBackups } from '../../backup/engine/verify.js';
import { formatIdentityFile, generateKeyPair } from '../../backup/crypto/index.js';
import type { Config } from '../../services/shared/config.js';
import { createLogger, type Logger } from '../../services/shared/logger.js';
import { CliError, EXIT, type Context } from '../context.js';
import { parseTime, printJson } from '../output.js';
import { runSetup } from '../setup/setup.js';

interface Common {
  json?: boolean;
  target?: string;
  config?: string;
  verbose?: boolean;
}

interface KeyFlags {
  identity?: string[];
  passphraseFile?: string;
  signingKey?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerBackup(program: Command, ctx: Context): void {
  const backup = program
    .command('backup')
    .description('Encrypted backups to local, S3 and rsync targets: create, list, verify, restore, prune, keygen')
    .addHelpText('after', '\nTargets, schedules and retention: TAPSTACK_BACKUP_CONFIG_FILE (default <data dir>/backup.json); see DEPLOY.md "Backups and disaster recovery".');
  registerCreate(backup, ctx);
  registerList(backup, ctx);
  registerVerify(backup, ctx);
  registerRestore(backup, ctx);
  registerPrune(backup, ctx);
  registerKeygen(backup, ctx);
}

/** The flags every backup subcommand takes. */
const common = (cmd: Command) =>
  cmd
    .option('--target <name>', 'only this target (default: every enabled target)')
    .option('--config <file>', 'backup config file (default: TAPSTACK_BACKUP_CONFIG_FILE or <data dir>/backup.json)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--verbose', 'log what the engine does (JSON lines on stderr)');

/** The flags of the subcommands that read sealed backups. */
const keys = (cmd: Command) =>
  cmd
    .option('--identity <file>', 'age identity file that decrypts the backups (repeatable; default TAPSTACK_BACKUP_IDENTITY_FILE)', collect)
    .option('--passphrase-file <file>', 'file holding the passphrase of passphrase-encrypted backups')
    .option('--signing-key <key>', 'trusted signing public key (ed25519:..., or a file holding it; repeatable; default: this installation\'s own)', collect);

/** `backup create`: a snapshot, uploaded to every selected target. */
function registerCreate(backup: Command, ctx: Context): void {
  common(backup.command('create'))
    .description('Take a consistent snapshot (SQLite, Redis, config, TLS) and upload what each target lacks')
    .option('--kind <kind>', 'full (re-checks every stored chunk it reuses) or incremental', 'incremental')
    .option('--no-redis', 'leave Redis out')
    .option('--wait <seconds>', 'wait this long for a running backup/restore/prune to finish', '0')
    .addHelpText('after', '\nExample: tapstack backup create --kind full --target s3')
    .action((opts: Common & { kind: string; redis: boolean; wait: string }) =>
      run(async () => {
        if (opts.kind !== 'full' && opts.kind !== 'incremental') throw new CliError('--kind must be full or incremental', 'invalid-argument', EXIT.usage);
        const { config, settings, log } = setup(ctx, opts);
        const targets = selectTargets(settings, opts.target);
        const progress = progressFor(opts);
        try {
          const report = await createBackup({ config, log, kind: opts.kind as BackupKind, targets, backupConfigFile: settingsFile(config, opts), progress, includeRedis: opts.redis, lockWaitMs: seconds(opts.wait) * 1000 });
          progress.stop();
          if (opts.json) printJson(report);
          else process.stdout.write(renderCreate(report));
          if (!report.ok) process.exitCode = EXIT.failed;
        } finally {
          progress.stop();
        }
      }),
    );
}

/** `backup list`: the backups of every target. */
function registerList(backup: Command, ctx: Context): void {
  keys(common(backup.command('list')))
    .description('List the backups of every target: size, kind, age, signature, verification status (with --identity also the sealed details: files, ledger head)')
    .action((opts: Common & KeyFlags) =>
      run(async () => {
        const { config, settings, log } = setup(ctx, opts);
        const targets = selectTargets(settings, opts.target);
        const spec = decryptionSpec(config, { identityFiles: opts.identity, passphraseFile: opts.passphraseFile });
        const trust = signingTrust(config, opts.signingKey);
        const out = await Promise.all(
          targets.map(async (t) => {
            let target;
            try {
              target = openTarget(t, { log, tmpDir: path.join(scratchDir(config), 'tmp') });
              const catalog = await loadCatalog(target, { trust });
              // A sealed part is opened only for a key given and a signature that verified.
              if (spec) for (const e of catalog.entries) if (e.signature === 'ok') await openEntry(target, e, { spec, trust, unsigned: 'allow' }).catch(() => undefined);
              return { target: t.name, describe: target.describe(), catalog };
            } catch (err) {
              return { target: t.name, describe: target?.describe() ?? t.spec.type, error: (err as Error).message };
            } finally {
              await closeTarget(target);
            }
          }),
        );
        if (opts.json) {
          printJson(out.map((c) => ({ target: c.target, describe: c.describe, ...(c.error ? { error: c.error } : {}), backups: (c.catalog?.entries ?? []).map((e) => ({ ...summary(e), verify: e.verify ?? null })), damaged: c.catalog?.damaged ?? [] })));
        } else process.stdout.write(renderList(out));
        if (out.some((c) => c.error)) process.exitCode = EXIT.failed;
      }),
    );
}

/** `backup verify`: read back, decrypt, hash and drill. */
function registerVerify(backup: Command, ctx: Context): void {
  keys(common(backup.command('verify')))
    .description('Read back every object of a backup, decrypt it, check every file\'s SHA-256 and run a restore drill in a temp dir')
    .option('--backup <id>', 'verify this backup (default: the newest of each target)')
    .option('--no-drill', 'decrypt and hash only, no restore drill')
    .option('--ciphertext-only', 'no key needed: only read back and compare the stored objects')
    .action((opts: Common & KeyFlags & { backup?: string; drill: boolean; ciphertextOnly?: boolean }) =>
      run(async () => {
        const { config, settings, log } = setup(ctx, opts);
        const targets = selectTargets(settings, opts.target);
        const spec = opts.ciphertextOnly ? undefined : requireDecryptionSpec(config, { identityFiles: opts.identity, passphraseFile: opts.passphraseFile }, 'verify');
        const progress = progressFor(opts);
        try {
          const result = await verifyBackups({ config, log, targets, backupId: opts.backup, spec, trust: signingTrust(config, opts.signingKey), drill: opts.drill, progress });
          progress.stop();
          if (opts.json) printJson(result);
          else process.stdout.write(renderVerify(result.targets));
          // A wrong key is bad input (exit 2), unless something really failed too (exit 1).
          const bad = result.targets.filter((t) => t.status !== 'ok' && t.status !== 'no-backups');
          if (bad.length) process.exitCode = bad.every((t) => t.status === 'wrong-key') ? EXIT.usage : EXIT.failed;
        } finally {
          progress.stop();
        }
      }),
    );
}

/** `backup restore`: a backup (or a point in time) into the data directory. */
function registerRestore(backup: Command, ctx: Context): void {
  keys(common(backup.command('restore')))
    .description('Restore a backup into the data directory (the previous files are kept for rollback), then migrate and check integrity')
    .option('--at <time>', 'restore the state at this time (ISO-8601 or epoch ms): the newest backup taken at or before it')
    .option('--backup <id>', 'restore this backup')
    .option('--dry-run', 'print the plan and the available window; change nothing')
    .option('--stop-services', 'AIO/native: stop the app programs through supervisord first and start them again after')
    .option('--accept-gap', 'when the WAL chain cannot reach --at (a missing or damaged segment, a gap), restore the last point it reaches instead of failing')
    .option('--restore-config', "also restore the backup's copy of the backup config (default: keep the current one)")
    .option('--allow-unsigned', 'also restore a format-1 backup (made before signed manifests; nothing proves who wrote it)')
    .option('--force', 'restore although the database holds recent heartbeats (a copy of another instance, a crash a moment ago); never overrides a live process')
    .addHelpText('after', '\nExamples:\n  tapstack backup restore --dry-run\n  tapstack backup restore --at 2026-11-22T10:00:00Z --identity ~/tapstack-backup.key --stop-services')
    .action((opts: Common & KeyFlags & { at?: string; backup?: string; dryRun?: boolean; stopServices?: boolean; force?: boolean; acceptGap?: boolean; restoreConfig?: boolean; allowUnsigned?: boolean }) =>
      run(async () => {
        const { config, settings, log } = setup(ctx, opts);
        const targets = selectTargets(settings, opts.target);
        const at = opts.at === undefined ? undefined : usage(() => parseTime(opts.at as string, '--at'));
        const spec = opts.dryRun ? decryptionSpec(config, { identityFiles: opts.identity, passphraseFile: opts.passphraseFile }) : requireDecryptionSpec(config, { identityFiles: opts.identity, passphraseFile: opts.passphraseFile }, 'restore');
        const runDir = path.resolve(process.env.TAPSTACK_RUN_DIR || path.join(config.dataDir, 'run'));
        const progress = progressFor(opts);
        try {
          const report = await restoreBackup({
            config,
            log,
            targets,
            backupId: opts.backup,
            at,
            dryRun: Boolean(opts.dryRun),
            spec,
            trust: signingTrust(config, opts.signingKey),
            allowUnsigned: Boolean(opts.allowUnsigned),
            stopServices: Boolean(opts.stopServices),
            force: Boolean(opts.force),
            acceptGap: Boolean(opts.acceptGap),
            restoreConfig: Boolean(opts.restoreConfig),
            runDir,
            backupConfigFile: settingsFile(config, opts),
            progress,
            // Continuous WAL segments (backup/wal): window() widens the plan's window, replay()
            // rolls the restored copy forward to --at.
            pitr: createWalPointInTime({ log }),
            // Under supervisord the programs restart without the entrypoint: re-render the configs
            // (redis.conf carries the restored Redis password) as the entrypoint's setup would.
            afterSwap: opts.stopServices ? () => void runSetup(config, process.env) : undefined,
          });
          progress.stop();
          if (opts.json) printJson(report);
          else process.stdout.write(report.done ? renderRestore(report) : renderPlan(report.plan));
          if (report.done && !opts.stopServices && !opts.json) process.stdout.write('next: start the app (its entrypoint runs `tapstack setup`, which re-renders the configs for the restored secrets)\n');
          if (report.done && report.integrity && !report.integrity.ok) process.exitCode = EXIT.failed;
        } finally {
          progress.stop();
        }
      }),
    );
}

/** `backup prune`: retention, then unused chunks. */
function registerPrune(backup: Command, ctx: Context): void {
  common(backup.command('prune'))
    .description('Apply each target\'s retention and delete chunks no backup uses; never deletes the newest verified backup')
    .option('--dry-run', 'show what would be deleted')
    .action((opts: Common & { dryRun?: boolean }) =>
      run(async () => {
        const { config, settings, log } = setup(ctx, opts);
        const result = await pruneTargets({ config, log, targets: selectTargets(settings, opts.target), dryRun: Boolean(opts.dryRun) });
        if (opts.json) printJson(result);
        else process.stdout.write(renderPrune(result.targets));
        if (!result.ok) process.exitCode = EXIT.failed;
      }),
    );
}

/** `backup keygen`: a new age key pair. */
function registerKeygen(backup: Command, ctx: Context): void {
  backup
    .command('keygen')
    .description('Make a new age X25519 key pair: the identity (secret, shown once) and its recipient (public)')
    .option('--out <file>', 'write the identity to this new file (mode 600) instead of printing it')
    .option('--json', 'print {identity, recipient} as JSON')
    .action((opts: { out?: string; json?: boolean }) =>
      run(async () => {
        const pair = generateKeyPair();
        const warning = 'Store the identity OFFLINE now (password manager, printed copy in a safe): it is not kept anywhere, and without it no backup can be read. Put only the recipient on the appliance: TAPSTACK_BACKUP_RECIPIENTS=' + pair.recipient;
        if (opts.out) {
          try {
            fs.writeFileSync(opts.out, formatIdentityFile(pair.identity), { mode: 0o600, flag: 'wx' });
          } catch (err) {
            throw new CliError(`--out: cannot create ${opts.out} (${(err as NodeJS.ErrnoException).code ?? 'error'}); it must not exist yet`, 'keygen-out', EXIT.usage);
          }
        }
        // The installation's manifest-signing key (made by setup), when keygen runs on the appliance.
        const signingKey = (() => {
          try {
            return installPublicKey(ctx.config().dataDir);
          } catch {
            return undefined; // keygen also runs where no installation is configured
          }
        })();
        const keep = signingKey ? `\nKeep this appliance's signing public key with the identity (restore and verify check manifests against it): ${signingKey}` : '';
        if (opts.json) return printJson({ recipient: pair.recipient, ...(opts.out ? { identityFile: path.resolve(opts.out) } : { identity: pair.identity }), ...(signingKey ? { signingKey } : {}), warning });
        if (opts.out) process.stdout.write(`identity written to ${path.resolve(opts.out)} (mode 600)\nrecipient: ${pair.recipient}\n`);
        else process.stdout.write(formatIdentityFile(pair.identity));
        if (signingKey) process.stdout.write(`# signing key: ${signingKey}\n`);
        process.stderr.write(`\nWARNING: ${warning}${keep}\n`);
      }),
    );
}

function setup(ctx: Context, opts: Common): { config: Config; settings: BackupSettings; log: Logger } {
  const config = ctx.config();
  const settings = loadBackupSettings(settingsFile(config, opts));
  const log = createLogger({ service: 'cli', level: opts.verbose ? config.logLevel : 'silent', destination: process.stderr });
  return { config, settings, log };
}

const settingsFile = (config: Config, opts: Common) => (opts.config ? path.resolve(opts.config) : config.backup.configFile);

function progressFor(opts: Common): Progress & { stop(): void } {
  return opts.json ? { ...silentProgress, stop: () => undefined } : createCliProgress(process.stderr);
}

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new CliError(`--wait: "${text}" is not a number of seconds`, 'invalid-argument', EXIT.usage);
  return n;
}

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new CliError((err as Error).message, 'invalid-argument', EXIT.usage);
  }
}

/** What `list --json` says of a backup: the public part (format 2 keeps files and ledger sealed). */
function summary(e: CatalogEntry) {
  const s = e.summary;
  const m = e.manifest;
  return {
    id: s.id,
    format: s.format,
    signature: e.signature,
    kind: s.kind,
    createdAt: s.createdAt,
    snapshotAt: s.snapshotAt,
    size: s.size,
    uploadedBytes: s.uploadedBytes,
    uploadedChunks: s.uploadedChunks,
    objects: s.objects.size,
    ...(m ? { files: m.files.length, schemaVersion: m.schemaVersion, ledger: m.ledger, versions: m.versions } : {}),
  };
}

/** Runs an action; BackupErrors (code, exit status, details) are reported by cli/output.ts. */
async function run(fn: () => Promise<void>): Promise<void> {
  await fn();
}
