/**
 * The one typed, validated, frozen configuration of every Tapstack process.
 *
 * Built by `loadConfig(env)` from `TAPSTACK_*` variables and passed in by hand; never imported as a
 * global. Invalid input fails fast with a `ConfigError` listing *every* bad variable at once.
 * Secrets may also come from a file (`NAME_FILE=/run/secrets/...`), the Docker secrets convention.
 * The variables themselves are in config-spec.ts, also the source of the docs' env table.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { CONFIG_SPEC, type FeedSourceName, type VarSpec } from './config-spec.js';
import { parseAmount } from './money.js';

export { CONFIG_SPEC, type FeedSourceName };

type Spec = typeof CONFIG_SPEC;
type Raw = { [K in keyof Spec]: z.output<Spec[K]['schema']> };

export interface Config {
  readonly dataDir: string;
  readonly dbFile: string;
  readonly http: { readonly host: string; readonly port: number; readonly trustProxy: boolean };
  readonly publicOrigin: string;
  readonly siwe: {
    readonly domain: string;
    readonly origin: string;
    readonly chainIds: readonly number[];
    readonly maxSkewSeconds: number;
    readonly nonceTtlSeconds: number;
  };
  readonly session: { readonly ttlSeconds: number; readonly cookieName: string };
  readonly authRate: { readonly ipPerMinute: number; readonly addressPerMinute: number };
  readonly redis: { readonly url: string; readonly password: string; readonly prefix: string };
  readonly sqlite: { readonly synchronous: 'FULL' | 'NORMAL' };
  readonly currency: { readonly code: string; readonly decimals: number };
  readonly demo: { readonly enabled: boolean; readonly grant: number };
  readonly integrityCron: string;
  readonly scheduler: { readonly host: string; readonly port: number };
  readonly feed: {
    readonly sources: readonly FeedSourceName[];
    readonly recordFile: string;
    readonly minSources: number;
    readonly maxDeviationBps: number;
    readonly sourceStaleMs: number;
    readonly synthetic: { readonly startPriceCents: number; readonly sigmaAnnual: number; readonly tickMs: number; readonly seed: number | undefined };
  };
  readonly breaker: { readonly staleAfterMs: number; readonly recoveryMs: number };
  readonly tickRetentionMs: number;
  readonly grid: { readonly rows: number; readonly rowHeightCents: number; readonly columns: number; readonly columnSeconds: number; readonly lockSeconds: number };
  readonly quotes: { readonly hz: number; readonly ttlMs: number; readonly edge: number; readonly minMultiplierCents: number; readonly maxMultiplierCents: number };
  readonly volatility: { readonly halfLifeSeconds: number; readonly floorAnnual: number; readonly capAnnual: number; readonly initialAnnual: number };
  readonly realtime: { readonly host: string; readonly port: number };
  readonly betting: {
    readonly stakeMin: number;
    readonly stakeMax: number;
    readonly ratePerSecond: number;
    readonly cellLiabilityCap: number;
    readonly columnLiabilityCap: number;
    /** Idempotency-Key lifetime: quote lifetime + TAPSTACK_IDEMPOTENCY_RETRY_SECONDS. */
    readonly idempotencyTtlSeconds: number;
  };
  readonly admission: { readonly redisMemoryPercent: number; readonly writerBacklog: number };
  readonly writer: { readonly batchMax: number; readonly port: number };
  readonly resolver: { readonly host: string; readonly port: number; readonly intervalMs: number; readonly graceMs: number; readonly maxWaitMs: number };
  readonly workers: { readonly host: string; readonly ingestPort: number; readonly quoterPort: number };
  readonly health: { readonly failures: number; readonly startTimeoutSeconds: number };
  readonly backup: {
    readonly configFile: string;
    readonly recipients: readonly string[];
    readonly passphrase: string;
    readonly stagingDir: string;
    readonly continuous: boolean;
    readonly continuousIntervalMs: number;
    /** Identity lines (`AGE-SECRET-KEY-1...`, comments allowed: an age-keygen file) or ''. */
    readonly identity: string;
    readonly host: string;
    readonly port: number;
  };
  readonly archive: {
    /** Backup-config target name; '' = archival off. */
    readonly target: string;
    readonly dir: string;
    readonly keepLocalWeeks: number;
    readonly cron: string;
    readonly graceMs: number;
    readonly deleteBatch: number;
    readonly host: string;
    readonly port: number;
  };
  readonly appliance: {
    readonly tlsDir: string;
    readonly tlsCertFile: string;
    readonly tlsKeyFile: string;
    readonly hstsMaxAge: number;
    readonly nginxListen: string;
    readonly nginxHttpPort: number;
    readonly nginxHttpsPort: number;
    readonly apiUpstream: string;
    readonly realtimeUpstream: string;
    readonly webRoot: string;
    readonly dataMinFreeMb: number;
    readonly dataRequireMount: boolean;
    readonly allowUnmarkedData: boolean;
  };
  readonly monitoring: {
    readonly enabled: boolean;
    readonly host: string;
    readonly prometheusPort: number;
    readonly alertmanagerPort: number;
    readonly retention: string;
    readonly healthMetricsPort: number;
    readonly alerts: {
      readonly webhookUrl: string;
      readonly email: { readonly to: string; readonly from: string; readonly smarthost: string; readonly username: string; readonly password: string; readonly requireTls: boolean };
      readonly slackWebhookUrl: string;
      readonly discordWebhookUrl: string;
      readonly telegram: { readonly botToken: string; readonly chatId: string };
      readonly heartbeatUrl: string;
    };
  };
  readonly logLevel: string;
  /** Per-process overrides of `logLevel` (TAPSTACK_LOG_LEVELS); `logLevelFor` applies them. */
  readonly logLevels: Readonly<Record<string, string>>;
  readonly shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Env vars read by scripts and entrypoints rather than by the processes; known, so not typos. */
const SCRIPT_VARS = new Set(['TAPSTACK_HOME', 'TAPSTACK_RUN_DIR']);

/** Build the frozen config from an environment; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Config {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  const known = new Set<string>(SCRIPT_VARS);

  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [keyof Spec, VarSpec][]) {
    known.add(spec.env);
    let value = env[spec.env];
    if (spec.secret) {
      known.add(`${spec.env}_FILE`);
      const file = env[`${spec.env}_FILE`];
      if (file !== undefined && file !== '') {
        if (value !== undefined && value !== '') {
          problems.push(`${spec.env} and ${spec.env}_FILE are both set; set one`);
          continue;
        }
        try {
          value = readFileSync(file, 'utf8').trim();
        } catch (err) {
          problems.push(`${spec.env}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
          continue;
        }
      }
    }
    if (value === undefined) value = spec.default;
    if (value === undefined) {
      problems.push(`${spec.env} is required: ${spec.doc}`);
      continue;
    }
    const parsed = spec.schema.safeParse(value);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      problems.push(`${spec.env}=${spec.secret ? '<secret>' : JSON.stringify(value)}: ${why}`);
      continue;
    }
    raw[key] = parsed.data;
  }

  for (const name of Object.keys(env)) {
    if (name.startsWith('TAPSTACK_') && !known.has(name)) problems.push(`${name} is not a Tapstack setting (typo?)`);
  }

  let demoGrant = 0;
  if (problems.length === 0) {
    const r = raw as Raw;
    try {
      demoGrant = parseAmount(r.demoGrant, r.currencyDecimals);
    } catch (err) {
      problems.push(`TAPSTACK_DEMO_GRANT=${JSON.stringify(r.demoGrant)}: ${(err as Error).message}`);
    }
  }
  if (problems.length === 0) {
    const r = raw as Raw;
    if (parseAmount(r.multiplierMin, 2) < 100) problems.push('TAPSTACK_MULTIPLIER_MIN must be at least 1.00');
    if (parseAmount(r.multiplierMin, 2) > parseAmount(r.multiplierMax, 2)) problems.push('TAPSTACK_MULTIPLIER_MIN must not exceed TAPSTACK_MULTIPLIER_MAX');
    if (r.volFloorAnnual > r.volCapAnnual) problems.push('TAPSTACK_VOL_FLOOR_ANNUAL must not exceed TAPSTACK_VOL_CAP_ANNUAL');
    if (r.volInitialAnnual < r.volFloorAnnual || r.volInitialAnnual > r.volCapAnnual) problems.push('TAPSTACK_VOL_INITIAL_ANNUAL must lie between the floor and the cap');
    if (r.feedMinSources > r.feedSources.length) problems.push(`TAPSTACK_FEED_MIN_SOURCES=${r.feedMinSources} exceeds the ${r.feedSources.length} configured source(s)`);
    if (Boolean(r.tlsCertFile) !== Boolean(r.tlsKeyFile)) problems.push('TAPSTACK_TLS_CERT_FILE and TAPSTACK_TLS_KEY_FILE must be set together');
    if (r.alertEmailTo && !r.alertSmtpSmarthost) problems.push('TAPSTACK_ALERT_EMAIL_TO needs TAPSTACK_ALERT_SMTP_SMARTHOST');
    if (Boolean(r.alertTelegramBotToken) !== Boolean(r.alertTelegramChatId)) problems.push('TAPSTACK_ALERT_TELEGRAM_BOT_TOKEN and TAPSTACK_ALERT_TELEGRAM_CHAT_ID must be set together');
    if (parseAmount(r.gridRowHeight, 2) === 0) problems.push('TAPSTACK_GRID_ROW_HEIGHT must be positive');
    for (const [name, text] of [['TAPSTACK_STAKE_MIN', r.stakeMin], ['TAPSTACK_STAKE_MAX', r.stakeMax], ['TAPSTACK_CELL_LIABILITY_CAP', r.cellLiabilityCap], ['TAPSTACK_COLUMN_LIABILITY_CAP', r.columnLiabilityCap]] as const) {
      try {
        if (parseAmount(text, r.currencyDecimals) === 0) problems.push(`${name} must be positive`);
      } catch (err) {
        problems.push(`${name}=${JSON.stringify(text)}: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const r = raw as Raw;
  const dataDir = path.resolve(opts.cwd ?? process.cwd(), r.dataDir);
  const origin = new URL(r.publicOrigin).origin;
  const config: Config = {
    dataDir,
    dbFile: path.join(dataDir, 'tapstack.db'),
    http: { host: r.httpHost, port: r.httpPort, trustProxy: r.trustProxy },
    publicOrigin: origin,
    siwe: {
      domain: r.siweDomain || new URL(origin).host,
      origin,
      chainIds: r.siweChainIds,
      maxSkewSeconds: r.siweMaxSkewSeconds,
      nonceTtlSeconds: r.nonceTtlSeconds,
    },
    session: { ttlSeconds: r.sessionTtlSeconds, cookieName: 'tapstack_session' },
    authRate: { ipPerMinute: r.authRateIpPerMinute, addressPerMinute: r.authRateAddressPerMinute },
    redis: { url: r.redisUrl, password: r.redisPassword, prefix: r.redisPrefix },
    sqlite: { synchronous: r.sqliteSynchronous },
    currency: { code: r.currencyCode, decimals: r.currencyDecimals },
    demo: { enabled: r.demoMode, grant: demoGrant },
    integrityCron: r.integrityCron,
    scheduler: { host: r.workerHost, port: r.schedulerPort },
    feed: {
      sources: r.feedSources,
      recordFile: r.feedRecordFile ? path.resolve(opts.cwd ?? process.cwd(), r.feedRecordFile) : '',
      minSources: r.feedMinSources,
      maxDeviationBps: r.feedMaxDeviationBps,
      sourceStaleMs: r.feedSourceStaleMs,
      synthetic: {
        startPriceCents: parseAmount(r.syntheticStartPrice, 2),
        sigmaAnnual: r.syntheticSigmaAnnual,
        tickMs: r.syntheticTickMs,
        seed: r.syntheticSeed === '' ? undefined : Number(r.syntheticSeed),
      },
    },
    breaker: { staleAfterMs: r.breakerStaleSeconds * 1000, recoveryMs: r.breakerRecoverySeconds * 1000 },
    tickRetentionMs: r.tickRetentionDays * 86_400_000,
    grid: { rows: r.gridRows, rowHeightCents: parseAmount(r.gridRowHeight, 2), columns: r.gridColumns, columnSeconds: r.gridColumnSeconds, lockSeconds: r.gridLockSeconds },
    quotes: { hz: r.quoteHz, ttlMs: r.quoteTtlMs, edge: r.houseEdge, minMultiplierCents: parseAmount(r.multiplierMin, 2), maxMultiplierCents: parseAmount(r.multiplierMax, 2) },
    volatility: { halfLifeSeconds: r.volHalfLifeSeconds, floorAnnual: r.volFloorAnnual, capAnnual: r.volCapAnnual, initialAnnual: r.volInitialAnnual },
    realtime: { host: r.realtimeHost, port: r.realtimePort },
    betting: {
      stakeMin: parseAmount(r.stakeMin, r.currencyDecimals),
      stakeMax: parseAmount(r.stakeMax, r.currencyDecimals),
      ratePerSecond: r.betRatePerSecond,
      cellLiabilityCap: parseAmount(r.cellLiabilityCap, r.currencyDecimals),
      columnLiabilityCap: parseAmount(r.columnLiabilityCap, r.currencyDecimals),
      idempotencyTtlSeconds: Math.ceil(r.quoteTtlMs / 1000) + r.idempotencyRetrySeconds,
    },
    admission: { redisMemoryPercent: r.admissionRedisMemoryPercent, writerBacklog: r.admissionWriterBacklog },
    writer: { batchMax: r.writerBatchMax, port: r.writerPort },
    resolver: { host: r.workerHost, port: r.resolverPort, intervalMs: r.resolverIntervalMs, graceMs: r.resolverGraceMs, maxWaitMs: r.resolverMaxWaitMs },
    health: { failures: r.healthFailures, startTimeoutSeconds: r.startTimeoutSeconds },
    backup: {
      configFile: r.backupConfigFile ? path.resolve(opts.cwd ?? process.cwd(), r.backupConfigFile) : path.join(dataDir, 'backup.json'),
      recipients: r.backupRecipients ? r.backupRecipients.split(',') : [],
      passphrase: r.backupPassphrase,
      stagingDir: r.backupStagingDir ? path.resolve(opts.cwd ?? process.cwd(), r.backupStagingDir) : path.join(dataDir, 'backup-staging'),
      continuous: r.backupContinuous,
      continuousIntervalMs: r.backupContinuousIntervalMs,
      identity: r.backupIdentity,
      host: r.workerHost,
      port: r.backupPort,
    },
    archive: {
      target: r.archiveTarget,
      dir: r.archiveDir ? path.resolve(opts.cwd ?? process.cwd(), r.archiveDir) : path.join(dataDir, 'archive'),
      keepLocalWeeks: r.archiveKeepLocalWeeks,
      cron: r.archiveCron,
      graceMs: r.archiveGraceHours * 3_600_000,
      deleteBatch: r.archiveDeleteBatch,
      host: r.workerHost,
      port: r.archivePort,
    },
    appliance: {
      tlsDir: r.tlsDir ? path.resolve(opts.cwd ?? process.cwd(), r.tlsDir) : path.join(dataDir, 'tls'),
      tlsCertFile: r.tlsCertFile ? path.resolve(opts.cwd ?? process.cwd(), r.tlsCertFile) : '',
      tlsKeyFile: r.tlsKeyFile ? path.resolve(opts.cwd ?? process.cwd(), r.tlsKeyFile) : '',
      hstsMaxAge: r.hstsMaxAge,
      nginxListen: r.nginxListen,
      nginxHttpPort: r.nginxHttpPort,
      nginxHttpsPort: r.nginxHttpsPort,
      apiUpstream: r.apiUpstream,
      realtimeUpstream: r.realtimeUpstream,
      webRoot: r.webRoot ? path.resolve(opts.cwd ?? process.cwd(), r.webRoot) : '',
      dataMinFreeMb: r.dataMinFreeMb,
      dataRequireMount: r.dataRequireMount,
      allowUnmarkedData: r.allowUnmarkedData,
    },
    workers: { host: r.workerHost, ingestPort: r.ingestPort, quoterPort: r.quoterPort },
    monitoring: {
      enabled: r.monitoring,
      host: r.monitoringHost,
      prometheusPort: r.prometheusPort,
      alertmanagerPort: r.alertmanagerPort,
      retention: r.prometheusRetention,
      healthMetricsPort: r.healthMetricsPort,
      alerts: {
        webhookUrl: r.alertWebhookUrl,
        email: { to: r.alertEmailTo, from: r.alertEmailFrom, smarthost: r.alertSmtpSmarthost, username: r.alertSmtpUsername, password: r.alertSmtpPassword, requireTls: r.alertSmtpRequireTls },
        slackWebhookUrl: r.alertSlackWebhookUrl,
        discordWebhookUrl: r.alertDiscordWebhookUrl,
        telegram: { botToken: r.alertTelegramBotToken, chatId: r.alertTelegramChatId },
        heartbeatUrl: r.alertHeartbeatUrl,
      },
    },
    logLevel: r.logLevel,
    logLevels: r.logLevels,
    shutdownTimeoutMs: r.shutdownTimeoutMs,
  };
  return deepFreeze(config);
}

/** The config as it may be logged: every secret replaced by a mask. */
export function maskedConfig(config: Config): Config {
  const url = new URL(config.redis.url);
  if (url.password) url.password = '********';
  return {
    ...config,
    redis: { ...config.redis, url: url.toString(), password: config.redis.password ? '********' : '' },
    backup: { ...config.backup, passphrase: config.backup.passphrase ? '********' : '', identity: config.backup.identity ? '********' : '' },
    monitoring: { ...config.monitoring, alerts: maskedAlerts(config.monitoring.alerts) },
  };
}

function maskedAlerts(a: Config['monitoring']['alerts']): Config['monitoring']['alerts'] {
  const m = (s: string) => (s ? '********' : '');
  return {
    ...a,
    webhookUrl: m(a.webhookUrl),
    email: { ...a.email, password: m(a.email.password) },
    slackWebhookUrl: m(a.slackWebhookUrl),
    discordWebhookUrl: m(a.discordWebhookUrl),
    telegram: { ...a.telegram, botToken: m(a.telegram.botToken) },
    heartbeatUrl: m(a.heartbeatUrl),
  };
}

/** The log level of one process: its TAPSTACK_LOG_LEVELS entry, else TAPSTACK_LOG_LEVEL. */
export function logLevelFor(config: Pick<Config, 'logLevel' | 'logLevels'>, service: string): string {
  return config.logLevels[service] ?? config.logLevel;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const value of Object.values(o)) deepFreeze(value);
    Object.freeze(o);
  }
  return o;
}
