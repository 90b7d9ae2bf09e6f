/**
 * `tapstack setup`: the one preparation shared by the compose set-up service, the AIO entrypoint
 * and the native run (scripts/entrypoint.sh). In order:
 *   a. verify the data volume (exists, mount point if required, fsync probe, free space, marker);
 *   b. the Redis password;  c. the TLS certificate;  d. nginx.conf and redis.conf;
 *   e. the monitoring files (monitoring.ts);  f. migrations and cli.env.
 * Phase 1 inspects and decides; every refusal (exit codes in exit-codes.ts) happens there, before
 * anything is written. Phase 2 applies the decisions under the setup lock, each file crash-safe,
 * so an interrupted run converges on the next one. Safe to repeat: a second run keeps everything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../services/shared/config.js';
import { openDb } from '../../services/shared/db/database.js';
import { migrate, migrationStatus } from '../../services/shared/db/migrate.js';
import { inspectDataVolume, planInstall, type DataVolume, type InstallPlan } from './data-volume.js';
import { SETUP_EXIT, refuse } from './exit-codes.js';
import { writeIfChanged } from '../../services/shared/atomic-file.js';
import { withFileLockSync } from '../../services/shared/file-lock.js';
import { writeProblem } from './probe.js';
import { SETUP_LOCK_NAME, newMarker, readMarker, writeMarker } from './markers.js';
import { applyMonitoring } from './monitoring.js';
import { nginxVars, redisIsLocal, renderRedisConf, renderTemplate } from './templates.js';
import { ensureRedisSecret } from './secrets.js';
import { dedupKeyFile, ensureInstallKeys, signingKeyFile } from '../../backup/engine/install-keys.js';
import { applyTls, assertWritable, ensureServedDir, originHost, planTls, type TlsPlan } from './tls.js';

export type StepStatus = 'ok' | 'created' | 'kept' | 'updated' | 'adopted';

export interface SetupStep {
  step: string;
  status: StepStatus;
  detail: string;
}

export interface SetupReport {
  ok: true;
  installId: string;
  steps: SetupStep[];
  warnings: string[];
  paths: SetupPaths;
}

/** Where setup reads and writes, beyond the config: TAPSTACK_HOME and TAPSTACK_RUN_DIR. */
export interface SetupPaths {
  home: string;
  runDir: string;
  webRoot: string;
  template: string;
  nginxPrefix: string;
  nginxConf: string;
  redisConf: string;
  redisDir: string;
  cliEnv: string;
  acmeRoot: string;
  certFile: string;
  keyFile: string;
}

/** The checkout or image root this build runs from (dist/cli/setup/ is three levels down). */
const BUILD_HOME = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The web UI this build ships: web/dist when the Vite app was built (`npm run build`), else the
 * plain web/ directory. The images copy whichever it is to /app/web.
 */
export function shippedWebDir(home: string): string {
  const dist = path.join(home, 'web', 'dist');
  return fs.existsSync(path.join(dist, 'index.html')) ? dist : path.join(home, 'web');
}

export function setupPaths(config: Config, env: NodeJS.ProcessEnv, tls: Pick<TlsPlan, 'certFile' | 'keyFile'>): SetupPaths {
  const home = path.resolve(env.TAPSTACK_HOME || BUILD_HOME);
  const runDir = path.resolve(env.TAPSTACK_RUN_DIR || path.join(config.dataDir, 'run'));
  return {
    home,
    runDir,
    webRoot: config.appliance.webRoot || shippedWebDir(home),
    template: path.join(home, 'nginx', 'nginx.conf.template'),
    nginxPrefix: path.join(runDir, 'nginx'),
    nginxConf: path.join(runDir, 'nginx.conf'),
    redisConf: path.join(runDir, 'redis.conf'),
    redisDir: path.join(config.dataDir, 'redis'),
    cliEnv: path.join(runDir, 'cli.env'),
    acmeRoot: path.join(config.appliance.tlsDir, 'acme'),
    certFile: tls.certFile,
    keyFile: tls.keyFile,
  };
}

export function buildVersion(home: string): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(home, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

interface Plan {
  data: DataVolume;
  install: InstallPlan;
  tls: TlsPlan;
  paths: SetupPaths;
  nginxConf: string;
}

/** Phase 1: look, decide, refuse. Writes nothing but the data volume's self-removing probe. */
function plan(config: Config, env: NodeJS.ProcessEnv): Plan {
  const a = config.appliance;
  const data = inspectDataVolume(config.dataDir, { requireMount: a.dataRequireMount, minFreeMb: a.dataMinFreeMb });
  const tlsMarker = readMarker(a.tlsDir);
  const install = planInstall(data, tlsMarker, a.tlsDir, a.allowUnmarkedData);
  const tls = planTls(a, originHost(config.publicOrigin));
  const paths = setupPaths(config, env, tls);
  // The TLS directory is written even with operator certificates (marker, ACME webroot): refuse
  // now, not half-way, if it must change and cannot.
  const markedForUs = tlsMarker.kind === 'ok' && install.action === 'keep' && tlsMarker.marker.installId === install.marker.installId;
  if (!markedForUs || !fs.existsSync(path.join(paths.acmeRoot, '.well-known', 'acme-challenge'))) assertWritable(a.tlsDir);
  const runProblem = writeProblem(paths.runDir);
  if (runProblem) throw refuse(SETUP_EXIT.notWritable, 'run-dir-not-writable', `the run directory ${paths.runDir} (TAPSTACK_RUN_DIR) does not take writes (${runProblem.code ?? runProblem.message})`);
  const template = fs.readFileSync(paths.template, 'utf8');
  const nginxConf = renderTemplate(template, nginxVars(config, paths));
  return { data, install, tls, paths, nginxConf };
}

export function runSetup(config: Config, env: NodeJS.ProcessEnv): SetupReport {
  // Secrets, the database and keys private to their user, also when setup is not started by
  // scripts/entrypoint.sh (which sets the same umask): compose runs `tapstack setup` directly.
  const umask = process.umask(0o077);
  try {
    // Refuse before creating even the lock file in a directory that is not ours...
    plan(config, env);
    // ...then decide again under the lock: a concurrent first boot may have marked the volume.
    // One setup at a time per data volume: under compose several containers may run the entrypoint
    // at once; two first boots must not each write their own install id or Redis password.
    return withFileLockSync(path.join(config.dataDir, SETUP_LOCK_NAME), () => apply(config, env, plan(config, env)), 120_000);
  } finally {
    process.umask(umask);
  }
}

/** Phase 2: carry out the plan; each write is crash-safe and idempotent. */
function apply(config: Config, env: NodeJS.ProcessEnv, p: Plan): SetupReport {
  const a = config.appliance;
  const steps: SetupStep[] = [];
  const warnings: string[] = [...p.tls.warnings];
  const step = (name: string, status: StepStatus, detail: string) => steps.push({ step: name, status, detail });
  const version = buildVersion(p.paths.home);

  step('data-volume', 'ok', `${p.data.dir}: ${p.data.mounted ? 'mount point' : 'directory'}, ${p.data.freeMb} MB free, fsync probe passed`);
  let installId: string;
  if (p.install.action === 'keep') {
    installId = p.install.marker.installId;
    step('volume-marker', 'kept', `install ${installId}, created ${p.install.marker.createdAt} by ${p.install.marker.version}`);
  } else {
    const marker = newMarker(version, p.install.installId);
    writeMarker(config.dataDir, marker);
    installId = marker.installId;
    if (p.install.action === 'create') step('volume-marker', 'created', `fresh install ${installId}`);
    else {
      step('volume-marker', 'adopted', `install ${installId}: ${p.install.reason}`);
      warnings.push(`data directory ${config.dataDir}: ${p.install.reason}`);
    }
  }

  const secret = ensureRedisSecret(config.dataDir, env, config.redis.password);
  step('redis-password', secret.status, secret.detail);

  // The backup dedup and signing keys (backup/engine/install-keys.ts). The signing public key is
  // printed so the operator can keep it with the backup identity: restore on a new host checks it.
  const backupKeys = ensureInstallKeys(config.dataDir);
  step('backup-keys', backupKeys.created.length ? 'created' : 'kept', `${dedupKeyFile(config.dataDir)}, ${signingKeyFile(config.dataDir)}; signing public key ${backupKeys.publicKey}`);
  if (backupKeys.created.includes(signingKeyFile(config.dataDir))) warnings.push(`new backup signing key: keep its public half with the backup identity (\`tapstack backup restore --signing-key ${backupKeys.publicKey}\` on a new host)`);

  ensureServedDir(a.tlsDir);
  for (const dir of [p.paths.acmeRoot, path.join(p.paths.acmeRoot, '.well-known'), path.join(p.paths.acmeRoot, '.well-known', 'acme-challenge')]) ensureServedDir(dir);
  const tls = applyTls(p.tls, a.tlsDir);
  step('tls-certificate', tls.status, `${p.tls.certFile}: ${tls.detail}`);

  const tlsMarker = readMarker(a.tlsDir);
  if (tlsMarker.kind === 'ok' && tlsMarker.marker.installId === installId) step('tls-marker', 'kept', `${a.tlsDir} belongs to install ${installId}`);
  else {
    writeMarker(a.tlsDir, newMarker(version, installId));
    step('tls-marker', tlsMarker.kind === 'absent' ? 'created' : 'updated', `${a.tlsDir} marked for install ${installId}`);
  }

  fs.mkdirSync(p.paths.nginxPrefix, { recursive: true, mode: 0o700 });
  step('nginx-config', writeIfChanged(p.paths.nginxConf, p.nginxConf, 0o644), `${p.paths.nginxConf} (prefix ${p.paths.nginxPrefix})`);
  // Compose: nginx runs in its own container and sees the runtime volume, not /app: copy the UI.
  // Copied beside the old copy and swapped in, so that files of an older build do not linger.
  const shippedWeb = shippedWebDir(p.paths.home);
  if (p.paths.webRoot !== shippedWeb) {
    const next = `${p.paths.webRoot}.next`;
    const old = `${p.paths.webRoot}.old`;
    fs.rmSync(next, { recursive: true, force: true });
    fs.rmSync(old, { recursive: true, force: true });
    fs.cpSync(shippedWeb, next, { recursive: true });
    if (fs.existsSync(p.paths.webRoot)) fs.renameSync(p.paths.webRoot, old);
    fs.renameSync(next, p.paths.webRoot);
    fs.rmSync(old, { recursive: true, force: true });
    step('web-root', 'ok', `${p.paths.webRoot} (copied from ${shippedWeb})`);
  }

  // A Redis in its own container (compose) keeps its files in its own volume, not in ours.
  const redisDir = redisIsLocal(config.redis.url) ? p.paths.redisDir : undefined;
  if (redisDir) fs.mkdirSync(redisDir, { recursive: true, mode: 0o700 });
  step('redis-config', writeIfChanged(p.paths.redisConf, renderRedisConf(config, secret.password, redisDir), 0o600), p.paths.redisConf);

  applyMonitoring(config, p.paths, step);

  const existed = fs.existsSync(config.dbFile);
  const db = openDb(config.dbFile, { synchronous: config.sqlite.synchronous });
  try {
    const applied = migrate(db);
    const { current } = migrationStatus(db);
    if (!existed) step('migrations', 'created', `${config.dbFile}: schema ${current} (applied ${applied.join(', ')})`);
    else if (applied.length > 0) step('migrations', 'updated', `${config.dbFile}: applied ${applied.join(', ')}; schema ${current}`);
    else step('migrations', 'kept', `${config.dbFile}: schema ${current} is current`);
  } finally {
    db.close();
  }

  // How the admin CLI (bin/tapstack) and the entrypoint reach this runtime's Redis.
  const cliEnv = [`TAPSTACK_REDIS_URL=${config.redis.url}`, ...(secret.file ? [`TAPSTACK_REDIS_PASSWORD_FILE=${secret.file}`] : []), ''].join('\n');
  step('cli-env', writeIfChanged(p.paths.cliEnv, cliEnv, 0o600), p.paths.cliEnv);

  if (!config.publicOrigin.startsWith('https://')) warnings.push(`TAPSTACK_PUBLIC_ORIGIN=${config.publicOrigin} is not https: nginx redirects every request to https`);
  return { ok: true, installId, steps, warnings, paths: p.paths };
}
