/**
 * Every TAPSTACK_* variable: name, meaning, validation, default, and where its value lands in the
 * typed Config (`at`, a dotted path, after an optional conversion `to`). This file is the single
 * source: the Config type, `loadConfig`'s assembly and the masking of secrets (config.ts) and the env
 * table of README.md and DEPLOY.md (config-doc.ts) are all derived from it. The order is the order
 * of the env table.
 */
import path from 'node:path';
import { validate as validCron } from 'node-cron';
import { z } from 'zod';
import { parseAmount } from './money.js';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const port = z.coerce.number().int().min(0).max(65535);
const posInt = z.coerce.number().int().positive();
const urlOrEmpty = z.union([z.literal(''), z.url()]);
const LEVEL = '[a-z-]+=(fatal|error|warn|info|debug|trace|silent)';

/** What a conversion may know besides its own value: settled before any conversion runs. */
export interface BuildContext {
  /** The working directory relative paths are resolved against. */
  readonly cwd: string;
  /** TAPSTACK_DATA_DIR, resolved: the home of every default file. */
  readonly dataDir: string;
  /** TAPSTACK_CURRENCY_DECIMALS: money amounts are integers of 10^-decimals units. */
  readonly decimals: number;
}

/** One variable as written in the spec; `v()` infers the value type from `schema` and `to`. */
export interface VarInput<S extends z.ZodType, T, P extends string | undefined> {
  env: string;
  /** Dotted path of the value in Config; omitted = only an input of a derived field (config.ts). */
  at?: P;
  doc: string;
  schema: S;
  /** Turns the validated value into the config value; a throw is reported as a problem with the variable. */
  to?: (value: z.output<S>, ctx: BuildContext) => T;
  /** Raw default as a string, parsed like user input. Omitted = required. */
  default?: string;
  /** Masked whole in the logged config, and may come from `<env>_FILE`. */
  secret?: boolean;
  /** How a non-secret value that may embed a secret (a URL's password) is shown in the logged config. */
  redact?: (value: T) => T;
}

/** One variable of the spec, with its value type `T` and its place `P` in Config. */
export interface VarSpec<T = unknown, P extends string | undefined = string | undefined, S extends z.ZodType = z.ZodType> {
  readonly env: string;
  readonly at: P;
  readonly doc: string;
  readonly schema: S;
  readonly to: (value: unknown, ctx: BuildContext) => T;
  readonly default?: string;
  readonly secret?: boolean;
  readonly redact?: (value: T) => T;
}

function v<S extends z.ZodType, T = z.output<S>, const P extends string | undefined = undefined>(spec: VarInput<S, T, P>): VarSpec<T, P, S> {
  const to = spec.to ?? ((value: z.output<S>) => value as unknown as T);
  return { ...spec, at: spec.at as P, to: to as (value: unknown, ctx: BuildContext) => T };
}

/** Conversions shared by several variables. */
const resolvePath = (p: string, c: BuildContext) => path.resolve(c.cwd, p);
const optionalPath = (p: string, c: BuildContext) => (p ? resolvePath(p, c) : '');
const pathOr = (name: string) => (p: string, c: BuildContext) => (p ? resolvePath(p, c) : path.join(c.dataDir, name));
const amount = (text: string, c: BuildContext) => parseAmount(text, c.decimals);
const cents = (text: string) => parseAmount(text, 2);
const seconds = (s: number) => s * 1000;

/** The URL with its password (if any) masked. */
function maskUrlPassword(value: string): string {
  const url = new URL(value);
  if (url.password) url.password = '********';
  return url.toString();
}

/** Every variable Tapstack reads. Order is the order of the env table in DEPLOY.md. */
export const CONFIG_SPEC = {
  dataDir: v({ env: 'TAPSTACK_DATA_DIR', at: 'dataDir', doc: 'Directory holding the SQLite database and generated secrets.', schema: z.string().min(1), to: resolvePath, default: './data' }),
  httpHost: v({ env: 'TAPSTACK_HTTP_HOST', at: 'http.host', doc: 'Address the API listens on.', schema: z.string().min(1), default: '127.0.0.1' }),
  httpPort: v({ env: 'TAPSTACK_HTTP_PORT', at: 'http.port', doc: 'Port the API listens on (0 = any free port).', schema: port, default: '8080' }),
  trustProxy: v({ env: 'TAPSTACK_TRUST_PROXY', at: 'http.trustProxy', doc: 'Trust X-Forwarded-* from the reverse proxy (one hop) for client IP and scheme.', schema: bool, default: 'true' }),
  publicOrigin: v({
    env: 'TAPSTACK_PUBLIC_ORIGIN', at: 'publicOrigin',
    doc: 'Origin players use (scheme://host[:port]); SIWE messages must name it as URI origin.',
    schema: z.url().refine((u) => new URL(u).origin === u.replace(/\/$/, ''), 'must be an origin: scheme://host[:port] without a path'),
    to: (u) => new URL(u).origin,
    default: 'https://localhost',
  }),
  siweDomain: v({ env: 'TAPSTACK_SIWE_DOMAIN', doc: 'Domain SIWE messages must name; empty = host of TAPSTACK_PUBLIC_ORIGIN.', schema: z.string(), default: '' }),
  siweChainIds: v({
    env: 'TAPSTACK_SIWE_CHAIN_IDS', at: 'siwe.chainIds',
    doc: 'Comma-separated allow-list of EIP-155 chain ids accepted at sign-in.',
    schema: z.string().regex(/^\d+(,\d+)*$/, 'comma-separated positive integers').transform((s) => s.split(',').map(Number)),
    default: '1',
  }),
  siweMaxSkewSeconds: v({ env: 'TAPSTACK_SIWE_MAX_SKEW_SECONDS', at: 'siwe.maxSkewSeconds', doc: 'Largest accepted |now - issuedAt| of a SIWE message.', schema: posInt.max(300), default: '30' }),
  nonceTtlSeconds: v({ env: 'TAPSTACK_NONCE_TTL_SECONDS', at: 'siwe.nonceTtlSeconds', doc: 'Lifetime of a sign-in nonce.', schema: posInt.max(3600), default: '90' }),
  sessionTtlSeconds: v({ env: 'TAPSTACK_SESSION_TTL_SECONDS', at: 'session.ttlSeconds', doc: 'Lifetime of a session token.', schema: posInt, default: '86400' }),
  authRateIpPerMinute: v({ env: 'TAPSTACK_AUTH_RATE_IP_PER_MINUTE', at: 'authRate.ipPerMinute', doc: 'Sign-in attempts (nonce + verify) allowed per client IP per minute.', schema: posInt, default: '30' }),
  authRateAddressPerMinute: v({ env: 'TAPSTACK_AUTH_RATE_ADDRESS_PER_MINUTE', at: 'authRate.addressPerMinute', doc: 'Sign-in verifications allowed per wallet address per minute.', schema: posInt, default: '10' }),
  redisUrl: v({ env: 'TAPSTACK_REDIS_URL', at: 'redis.url', doc: 'Redis URL (redis://host:port/db); the password goes in TAPSTACK_REDIS_PASSWORD.', schema: z.url(), redact: maskUrlPassword, default: 'redis://127.0.0.1:6379/0' }),
  redisPassword: v({ env: 'TAPSTACK_REDIS_PASSWORD', at: 'redis.password', doc: 'Redis password (or TAPSTACK_REDIS_PASSWORD_FILE).', schema: z.string(), default: '', secret: true }),
  redisPrefix: v({ env: 'TAPSTACK_REDIS_PREFIX', at: 'redis.prefix', doc: 'Prefix of every Redis key.', schema: z.string().regex(/^[A-Za-z0-9_.:-]*$/), default: 'tapstack:' }),
  sqliteSynchronous: v({ env: 'TAPSTACK_SQLITE_SYNCHRONOUS', at: 'sqlite.synchronous', doc: 'SQLite synchronous pragma: FULL survives power loss, NORMAL only process crashes.', schema: z.enum(['FULL', 'NORMAL']), default: 'FULL' }),
  currencyCode: v({ env: 'TAPSTACK_CURRENCY_CODE', at: 'currency.code', doc: 'Display code of the account currency.', schema: z.string().regex(/^[A-Z]{2,6}$/), default: 'USD' }),
  currencyDecimals: v({ env: 'TAPSTACK_CURRENCY_DECIMALS', at: 'currency.decimals', doc: 'Decimals of the currency: balances are integers of 10^-decimals units.', schema: z.coerce.number().int().min(0).max(8), default: '2' }),
  demoMode: v({ env: 'TAPSTACK_DEMO_MODE', at: 'demo.enabled', doc: 'Grant TAPSTACK_DEMO_GRANT to every new wallet at first sign-in (a ledger row).', schema: bool, default: 'false' }),
  demoGrant: v({ env: 'TAPSTACK_DEMO_GRANT', at: 'demo.grant', doc: 'Demo starting balance in currency units, e.g. 1000 or 12.50.', schema: z.string().regex(/^\d+(\.\d+)?$/), to: amount, default: '1000' }),
  integrityCron: v({ env: 'TAPSTACK_INTEGRITY_CRON', at: 'integrityCron', doc: 'Cron expression (UTC) of the scheduled ledger integrity check.', schema: z.string().refine((c) => validCron(c), 'not a valid cron expression'), default: '17 3 * * *' }),
  schedulerPort: v({ env: 'TAPSTACK_SCHEDULER_PORT', at: 'scheduler.port', doc: 'Port of the scheduler health/metrics listener.', schema: port, default: '9464' }),
  feedSources: v({
    env: 'TAPSTACK_FEED_SOURCES', at: 'feed.sources',
    doc: 'Comma-separated price sources combined by median: synthetic (offline default), coinbase, binance, kraken.',
    schema: z.string().regex(/^(synthetic|coinbase|binance|kraken)(,(synthetic|coinbase|binance|kraken))*$/, 'comma-separated list of synthetic, coinbase, binance, kraken').transform((s) => [...new Set(s.split(','))] as FeedSourceName[]),
    default: 'synthetic',
  }),
  feedRecordFile: v({ env: 'TAPSTACK_FEED_RECORD_FILE', at: 'feed.recordFile', doc: 'If set, append every raw feed message to this file (one JSON line each) for replay.', schema: z.string(), to: optionalPath, default: '' }),
  feedMinSources: v({ env: 'TAPSTACK_FEED_MIN_SOURCES', at: 'feed.minSources', doc: 'Sources that must agree before a median price is published.', schema: posInt, default: '1' }),
  feedMaxDeviationBps: v({ env: 'TAPSTACK_FEED_MAX_DEVIATION_BPS', at: 'feed.maxDeviationBps', doc: 'A source further than this (basis points) from the median is rejected as an outlier.', schema: posInt, default: '50' }),
  feedSourceStaleMs: v({ env: 'TAPSTACK_FEED_SOURCE_STALE_MS', at: 'feed.sourceStaleMs', doc: 'A source price older than this no longer counts toward the median.', schema: posInt, default: '5000' }),
  syntheticStartPrice: v({ env: 'TAPSTACK_SYNTHETIC_START_PRICE', at: 'feed.synthetic.startPriceCents', doc: 'Synthetic source: starting BTC price in USD.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), to: cents, default: '100000' }),
  syntheticSigmaAnnual: v({ env: 'TAPSTACK_SYNTHETIC_SIGMA_ANNUAL', at: 'feed.synthetic.sigmaAnnual', doc: 'Synthetic source: annualised volatility (0.5 = 50 %).', schema: z.coerce.number().positive().max(10), default: '0.5' }),
  syntheticTickMs: v({ env: 'TAPSTACK_SYNTHETIC_TICK_MS', at: 'feed.synthetic.tickMs', doc: 'Synthetic source: milliseconds between ticks.', schema: posInt.min(10).max(10_000), default: '250' }),
  syntheticSeed: v({ env: 'TAPSTACK_SYNTHETIC_SEED', at: 'feed.synthetic.seed', doc: 'Synthetic source: PRNG seed (empty = random per start).', schema: z.string().regex(/^\d*$/), to: (s) => (s === '' ? undefined : Number(s)), default: '' }),
  breakerStaleSeconds: v({ env: 'TAPSTACK_BREAKER_STALE_SECONDS', at: 'breaker.staleAfterMs', doc: 'A price older than this opens the circuit breaker (taps refused).', schema: posInt, to: seconds, default: '10' }),
  breakerRecoverySeconds: v({ env: 'TAPSTACK_BREAKER_RECOVERY_SECONDS', at: 'breaker.recoveryMs', doc: 'Continuously fresh prices needed before the breaker closes again.', schema: posInt, to: seconds, default: '30' }),
  tickRetentionDays: v({ env: 'TAPSTACK_TICK_RETENTION_DAYS', at: 'tickRetentionMs', doc: 'Days of settlement ticks kept in Redis.', schema: posInt.max(60), to: (d) => d * 86_400_000, default: '7' }),
  gridRows: v({ env: 'TAPSTACK_GRID_ROWS', at: 'grid.rows', doc: 'Price bands in the grid.', schema: posInt.max(40), default: '10' }),
  gridRowHeight: v({ env: 'TAPSTACK_GRID_ROW_HEIGHT', at: 'grid.rowHeightCents', doc: 'Height of a price band in USD.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), to: cents, default: '10' }),
  gridColumns: v({ env: 'TAPSTACK_GRID_COLUMNS', at: 'grid.columns', doc: 'Time windows in the grid.', schema: posInt.max(40), default: '8' }),
  gridColumnSeconds: v({ env: 'TAPSTACK_GRID_COLUMN_SECONDS', at: 'grid.columnSeconds', doc: 'Length of a time window in seconds.', schema: posInt.max(3600), default: '5' }),
  gridLockSeconds: v({ env: 'TAPSTACK_GRID_LOCK_SECONDS', at: 'grid.lockSeconds', doc: 'Windows starting sooner than this are locked (no taps).', schema: z.coerce.number().int().min(0).max(3600), default: '5' }),
  quoteHz: v({ env: 'TAPSTACK_QUOTE_HZ', at: 'quotes.hz', doc: 'Grid re-quotes per second (1-4).', schema: z.coerce.number().min(1).max(4), default: '2' }),
  quoteTtlMs: v({ env: 'TAPSTACK_QUOTE_TTL_MS', at: 'quotes.ttlMs', doc: 'How long a quote is valid for placing a bet.', schema: posInt.min(250).max(60_000), default: '2000' }),
  houseEdge: v({ env: 'TAPSTACK_HOUSE_EDGE', at: 'quotes.edge', doc: 'House edge per unit staked, e.g. 0.05 = 5 %.', schema: z.coerce.number().min(0).max(0.5), default: '0.05' }),
  multiplierMin: v({ env: 'TAPSTACK_MULTIPLIER_MIN', at: 'quotes.minMultiplierCents', doc: 'Smallest multiplier offered; cells where it would favour the player are disabled.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), to: cents, default: '1.01' }),
  multiplierMax: v({ env: 'TAPSTACK_MULTIPLIER_MAX', at: 'quotes.maxMultiplierCents', doc: 'Largest multiplier offered.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), to: cents, default: '100' }),
  volHalfLifeSeconds: v({ env: 'TAPSTACK_VOL_HALF_LIFE_SECONDS', at: 'volatility.halfLifeSeconds', doc: 'Half-life of the EWMA volatility estimate.', schema: posInt, default: '300' }),
  volFloorAnnual: v({ env: 'TAPSTACK_VOL_FLOOR_ANNUAL', at: 'volatility.floorAnnual', doc: 'Lowest annualised volatility used for pricing.', schema: z.coerce.number().positive(), default: '0.2' }),
  volCapAnnual: v({ env: 'TAPSTACK_VOL_CAP_ANNUAL', at: 'volatility.capAnnual', doc: 'Highest annualised volatility used for pricing.', schema: z.coerce.number().positive(), default: '3' }),
  volInitialAnnual: v({ env: 'TAPSTACK_VOL_INITIAL_ANNUAL', at: 'volatility.initialAnnual', doc: 'Annualised volatility assumed until enough 1-s returns are seen.', schema: z.coerce.number().positive(), default: '0.5' }),
  stakeMin: v({ env: 'TAPSTACK_STAKE_MIN', at: 'betting.stakeMin', doc: 'Smallest stake per tap, in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), to: amount, default: '0.10' }),
  stakeMax: v({ env: 'TAPSTACK_STAKE_MAX', at: 'betting.stakeMax', doc: 'Largest stake per tap, in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), to: amount, default: '100' }),
  betRatePerSecond: v({ env: 'TAPSTACK_BET_RATE_PER_SECOND', at: 'betting.ratePerSecond', doc: 'Taps accepted per wallet per second.', schema: posInt, default: '20' }),
  cellLiabilityCap: v({ env: 'TAPSTACK_CELL_LIABILITY_CAP', at: 'betting.cellLiabilityCap', doc: 'Largest total potential payout (stake x multiplier) on one cell, in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), to: amount, default: '10000' }),
  columnLiabilityCap: v({ env: 'TAPSTACK_COLUMN_LIABILITY_CAP', at: 'betting.columnLiabilityCap', doc: 'Largest total potential payout on one time window (column), in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), to: amount, default: '50000' }),
  idempotencyRetrySeconds: v({
    env: 'TAPSTACK_IDEMPOTENCY_RETRY_SECONDS',
    doc: 'How long after a tap a client may retry it with the same Idempotency-Key and get the original answer (kept for this plus the quote lifetime).',
    schema: posInt.max(86_400),
    default: '120',
  }),
  admissionRedisMemoryPercent: v({
    env: 'TAPSTACK_ADMISSION_REDIS_MEMORY_PERCENT', at: 'admission.redisMemoryPercent',
    doc: 'Refuse taps (503 capacity) while Redis uses more than this share of its maxmemory; the rest is headroom for the writer.',
    schema: z.coerce.number().int().min(10).max(99),
    default: '85',
  }),
  admissionWriterBacklog: v({ env: 'TAPSTACK_ADMISSION_WRITER_BACKLOG', at: 'admission.writerBacklog', doc: 'Refuse taps (503 capacity) while more than this many entries wait for the writer.', schema: posInt, default: '60000' }),
  writerBatchMax: v({ env: 'TAPSTACK_WRITER_BATCH_MAX', at: 'writer.batchMax', doc: 'Most queue entries the writer commits in one SQLite transaction.', schema: posInt.max(20_000), default: '2000' }),
  writerBatchTargetMs: v({
    env: 'TAPSTACK_WRITER_BATCH_TARGET_MS', at: 'writer.batchTargetMs',
    doc: 'Target duration of the statements of one batch transaction (it blocks the writer): reads are sized from the measured time per entry (at least 16 entries), and doubled while they come back full, up to TAPSTACK_WRITER_BATCH_MAX.',
    schema: posInt.max(10_000),
    default: '10',
  }),
  writerPort: v({ env: 'TAPSTACK_WRITER_PORT', at: 'writer.port', doc: 'Port of the writer process health/metrics listener.', schema: port, default: '9468' }),
  realtimeHost: v({ env: 'TAPSTACK_REALTIME_HOST', at: 'realtime.host', doc: 'Address the realtime (socket.io) service listens on.', schema: z.string().min(1), default: '127.0.0.1' }),
  realtimePort: v({ env: 'TAPSTACK_REALTIME_PORT', at: 'realtime.port', doc: 'Port of the realtime (socket.io) service.', schema: port, default: '8081' }),
  ingestPort: v({ env: 'TAPSTACK_INGEST_PORT', at: 'workers.ingestPort', doc: 'Port of the ingest process health/metrics listener.', schema: port, default: '9465' }),
  quoterPort: v({ env: 'TAPSTACK_QUOTER_PORT', at: 'workers.quoterPort', doc: 'Port of the quoter process health/metrics listener.', schema: port, default: '9466' }),
  resolverPort: v({ env: 'TAPSTACK_RESOLVER_PORT', at: 'resolver.port', doc: 'Port of the resolver process health/metrics listener.', schema: port, default: '9467' }),
  resolverIntervalMs: v({ env: 'TAPSTACK_RESOLVER_INTERVAL_MS', at: 'resolver.intervalMs', doc: 'Resolver: pause between two passes over the open bets.', schema: posInt.min(50).max(60_000), default: '500' }),
  resolverGraceMs: v({ env: 'TAPSTACK_RESOLVER_GRACE_MS', at: 'resolver.graceMs', doc: 'Resolver: wait this long after a window ends before deciding its bets (late ticks still being written).', schema: z.coerce.number().int().min(0).max(60_000), default: '1500' }),
  resolverMaxWaitMs: v({
    env: 'TAPSTACK_RESOLVER_MAX_WAIT_MS', at: 'resolver.maxWaitMs',
    doc: 'Resolver: decide a window with the ticks that exist this long after its end, even if the feed looks fresh but no later tick has arrived.',
    schema: posInt.max(3_600_000),
    default: '30000',
  }),
  workerHost: v({ env: 'TAPSTACK_WORKER_HOST', at: 'workers.host', doc: 'Address the worker health/metrics listeners bind to.', schema: z.string().min(1), default: '127.0.0.1' }),
  tlsDir: v({ env: 'TAPSTACK_TLS_DIR', at: 'appliance.tlsDir', doc: 'Directory of the generated TLS key and self-signed certificate; empty = <data dir>/tls.', schema: z.string(), to: pathOr('tls'), default: '' }),
  tlsCertFile: v({ env: 'TAPSTACK_TLS_CERT_FILE', at: 'appliance.tlsCertFile', doc: 'Operator-provided certificate chain (PEM); empty = the generated self-signed one.', schema: z.string(), to: optionalPath, default: '' }),
  tlsKeyFile: v({ env: 'TAPSTACK_TLS_KEY_FILE', at: 'appliance.tlsKeyFile', doc: 'Private key of TAPSTACK_TLS_CERT_FILE (PEM).', schema: z.string(), to: optionalPath, default: '' }),
  hstsMaxAge: v({ env: 'TAPSTACK_HSTS_MAX_AGE', at: 'appliance.hstsMaxAge', doc: 'HSTS max-age in seconds sent on every HTTPS response.', schema: z.coerce.number().int().min(0), default: '31536000' }),
  nginxListen: v({ env: 'TAPSTACK_NGINX_LISTEN', at: 'appliance.nginxListen', doc: 'Address nginx listens on.', schema: z.string().min(1), default: '0.0.0.0' }),
  nginxHttpPort: v({ env: 'TAPSTACK_NGINX_HTTP_PORT', at: 'appliance.nginxHttpPort', doc: 'nginx plain-HTTP port (redirects to HTTPS, serves ACME challenges).', schema: port, default: '80' }),
  nginxHttpsPort: v({ env: 'TAPSTACK_NGINX_HTTPS_PORT', at: 'appliance.nginxHttpsPort', doc: 'nginx HTTPS port.', schema: port, default: '443' }),
  apiUpstream: v({ env: 'TAPSTACK_API_UPSTREAM', at: 'appliance.apiUpstream', doc: 'host:port nginx proxies /api to.', schema: z.string().regex(/^[A-Za-z0-9.-]+:\d+$/), default: '127.0.0.1:8080' }),
  realtimeUpstream: v({ env: 'TAPSTACK_REALTIME_UPSTREAM', at: 'appliance.realtimeUpstream', doc: 'host:port nginx proxies /socket.io to.', schema: z.string().regex(/^[A-Za-z0-9.-]+:\d+$/), default: '127.0.0.1:8081' }),
  webRoot: v({ env: 'TAPSTACK_WEB_ROOT', at: 'appliance.webRoot', doc: 'Directory nginx serves the web UI from; empty = <app>/web/dist (the built web app). Setup copies the UI there when it differs (compose: the runtime volume).', schema: z.string(), to: optionalPath, default: '' }),
  dataMinFreeMb: v({ env: 'TAPSTACK_DATA_MIN_FREE_MB', at: 'appliance.dataMinFreeMb', doc: 'Refuse to start with less free space than this on the data volume.', schema: z.coerce.number().int().min(0), default: '256' }),
  dataRequireMount: v({ env: 'TAPSTACK_DATA_REQUIRE_MOUNT', at: 'appliance.dataRequireMount', doc: 'Refuse to start unless the data directory is a mount point (set in the images).', schema: bool, default: 'false' }),
  allowUnmarkedData: v({ env: 'TAPSTACK_ALLOW_UNMARKED_DATA', at: 'appliance.allowUnmarkedData', doc: 'Override: accept a non-empty data directory without the first-boot marker (adopts it).', schema: bool, default: 'false' }),
  healthFailures: v({ env: 'TAPSTACK_HEALTH_FAILURES', at: 'health.failures', doc: 'AIO: consecutive failed health probes (5 s apart) before the listener restarts a program.', schema: posInt.max(100), default: '3' }),
  startTimeoutSeconds: v({ env: 'TAPSTACK_START_TIMEOUT_SECONDS', at: 'health.startTimeoutSeconds', doc: 'AIO: how long a program waits for its dependencies to become healthy before giving up.', schema: posInt.max(3600), default: '60' }),
  backupConfigFile: v({ env: 'TAPSTACK_BACKUP_CONFIG_FILE', at: 'backup.configFile', doc: 'JSON file of backup targets, schedules and retention (DEPLOY.md "Backups"); empty = <data dir>/backup.json if present.', schema: z.string(), to: pathOr('backup.json'), default: '' }),
  backupRecipients: v({ env: 'TAPSTACK_BACKUP_RECIPIENTS', at: 'backup.recipients', doc: 'Comma-separated age X25519 recipients (age1...) backups are encrypted to; `tapstack backup keygen` makes one.', schema: z.string().regex(/^(age1[02-9ac-hj-np-z]{58}(,age1[02-9ac-hj-np-z]{58})*)?$/, 'comma-separated age1... recipients'), to: (s) => (s ? s.split(',') : []), default: '' }),
  backupPassphrase: v({ env: 'TAPSTACK_BACKUP_PASSPHRASE', at: 'backup.passphrase', doc: 'Optional passphrase that can also decrypt backups (or TAPSTACK_BACKUP_PASSPHRASE_FILE).', schema: z.string(), default: '', secret: true }),
  backupStagingDir: v({ env: 'TAPSTACK_BACKUP_STAGING_DIR', at: 'backup.stagingDir', doc: 'Where consistent snapshots are staged before upload; empty = <data dir>/backup-staging.', schema: z.string(), to: pathOr('backup-staging'), default: '' }),
  backupContinuous: v({ env: 'TAPSTACK_BACKUP_CONTINUOUS', at: 'backup.continuous', doc: 'Ship committed SQLite changes (WAL) continuously for point-in-time restore (RPO of seconds).', schema: bool, default: 'false' }),
  backupContinuousIntervalMs: v({ env: 'TAPSTACK_BACKUP_CONTINUOUS_INTERVAL_MS', at: 'backup.continuousIntervalMs', doc: 'How often continuous mode ships new WAL frames.', schema: posInt.min(100).max(60_000), default: '1000' }),
  backupIdentity: v({
    env: 'TAPSTACK_BACKUP_IDENTITY', at: 'backup.identity',
    doc: 'age identity (AGE-SECRET-KEY-1...) for verify drills and restore, usually as TAPSTACK_BACKUP_IDENTITY_FILE; leave unset so the appliance cannot read its own backups (drills then check ciphertext only).',
    schema: z.string(),
    default: '',
    secret: true,
  }),
  backupPort: v({ env: 'TAPSTACK_BACKUP_PORT', at: 'backup.port', doc: 'Port of the backup scheduler health/metrics listener.', schema: port, default: '9469' }),
  archiveTarget: v({ env: 'TAPSTACK_ARCHIVE_TARGET', at: 'archive.target', doc: 'Name of the backup-config target (DEPLOY.md "Weekly archival") closed weeks are archived to; empty = archival off.', schema: z.string().regex(/^([a-z0-9][a-z0-9_-]{0,39})?$/), default: '' }),
  archiveDir: v({ env: 'TAPSTACK_ARCHIVE_DIR', at: 'archive.dir', doc: 'Directory of the local, read-only week files (bets-YYYY-Www.db); empty = <data dir>/archive.', schema: z.string(), to: pathOr('archive'), default: '' }),
  archiveKeepLocalWeeks: v({ env: 'TAPSTACK_ARCHIVE_KEEP_LOCAL_WEEKS', at: 'archive.keepLocalWeeks', doc: 'Archived weeks kept locally (read-only, queryable) besides the copy in the archive target.', schema: z.coerce.number().int().min(0).max(520), default: '4' }),
  archiveCron: v({ env: 'TAPSTACK_ARCHIVE_CRON', at: 'archive.cron', doc: 'Cron expression (UTC) of the archiver\'s look for closed weeks (a run resumes a killed one).', schema: z.string().refine((c) => validCron(c), 'not a valid cron expression'), default: '40 * * * *' }),
  archiveGraceHours: v({ env: 'TAPSTACK_ARCHIVE_GRACE_HOURS', at: 'archive.graceMs', doc: 'A week is closed this many hours after its end (Monday 00:00 UTC).', schema: z.coerce.number().int().min(0).max(168), to: (h) => h * 3_600_000, default: '6' }),
  archiveDeleteBatch: v({ env: 'TAPSTACK_ARCHIVE_DELETE_BATCH', at: 'archive.deleteBatch', doc: 'Rows deleted per short transaction once a week is archived and verified.', schema: posInt.max(100_000), default: '2000' }),
  archivePort: v({ env: 'TAPSTACK_ARCHIVE_PORT', at: 'archive.port', doc: 'Port of the archiver health/metrics listener.', schema: port, default: '9471' }),
  monitoring: v({ env: 'TAPSTACK_MONITORING', at: 'monitoring.enabled', doc: 'AIO and native run: also run Prometheus and Alertmanager under supervisord (compose: the `monitoring` profile).', schema: bool, default: 'false' }),
  monitoringHost: v({ env: 'TAPSTACK_MONITORING_HOST', at: 'monitoring.host', doc: 'AIO: address Prometheus and Alertmanager listen on (loopback; publish it deliberately for an external Grafana).', schema: z.string().min(1), default: '127.0.0.1' }),
  prometheusPort: v({ env: 'TAPSTACK_PROMETHEUS_PORT', at: 'monitoring.prometheusPort', doc: 'AIO: Prometheus port.', schema: port, default: '9090' }),
  alertmanagerPort: v({ env: 'TAPSTACK_ALERTMANAGER_PORT', at: 'monitoring.alertmanagerPort', doc: 'AIO: Alertmanager port.', schema: port, default: '9093' }),
  prometheusRetention: v({ env: 'TAPSTACK_PROMETHEUS_RETENTION', at: 'monitoring.retention', doc: 'How long Prometheus keeps samples (e.g. 15d).', schema: z.string().regex(/^\d+[dhw]$/, 'a duration such as 15d'), default: '15d' }),
  healthMetricsPort: v({ env: 'TAPSTACK_HEALTH_METRICS_PORT', at: 'monitoring.healthMetricsPort', doc: 'AIO: port of the health listener metrics (probe results, restarts), on TAPSTACK_WORKER_HOST.', schema: port, default: '9470' }),
  alertWebhookUrl: v({ env: 'TAPSTACK_ALERT_WEBHOOK_URL', at: 'monitoring.alerts.webhookUrl', doc: 'Alerts: webhook receiver URL (Alertmanager JSON; or TAPSTACK_ALERT_WEBHOOK_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  alertEmailTo: v({ env: 'TAPSTACK_ALERT_EMAIL_TO', at: 'monitoring.alerts.email.to', doc: 'Alerts: comma-separated e-mail recipients (needs TAPSTACK_ALERT_SMTP_SMARTHOST).', schema: z.string(), default: '' }),
  alertEmailFrom: v({ env: 'TAPSTACK_ALERT_EMAIL_FROM', at: 'monitoring.alerts.email.from', doc: 'Alerts: sender address of alert e-mails.', schema: z.string(), default: 'tapstack-alerts@localhost' }),
  alertSmtpSmarthost: v({ env: 'TAPSTACK_ALERT_SMTP_SMARTHOST', at: 'monitoring.alerts.email.smarthost', doc: 'Alerts: SMTP server as host:port.', schema: z.string().regex(/^([A-Za-z0-9.-]+:\d+)?$/, 'host:port'), default: '' }),
  alertSmtpUsername: v({ env: 'TAPSTACK_ALERT_SMTP_USERNAME', at: 'monitoring.alerts.email.username', doc: 'Alerts: SMTP user name (empty = no authentication).', schema: z.string(), default: '' }),
  alertSmtpPassword: v({ env: 'TAPSTACK_ALERT_SMTP_PASSWORD', at: 'monitoring.alerts.email.password', doc: 'Alerts: SMTP password (or TAPSTACK_ALERT_SMTP_PASSWORD_FILE).', schema: z.string(), default: '', secret: true }),
  alertSmtpRequireTls: v({ env: 'TAPSTACK_ALERT_SMTP_REQUIRE_TLS', at: 'monitoring.alerts.email.requireTls', doc: 'Alerts: require STARTTLS to the SMTP server.', schema: bool, default: 'true' }),
  alertSlackWebhookUrl: v({ env: 'TAPSTACK_ALERT_SLACK_WEBHOOK_URL', at: 'monitoring.alerts.slackWebhookUrl', doc: 'Alerts: Slack incoming-webhook URL (or TAPSTACK_ALERT_SLACK_WEBHOOK_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  alertDiscordWebhookUrl: v({ env: 'TAPSTACK_ALERT_DISCORD_WEBHOOK_URL', at: 'monitoring.alerts.discordWebhookUrl', doc: 'Alerts: Discord webhook URL (or TAPSTACK_ALERT_DISCORD_WEBHOOK_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  alertTelegramBotToken: v({ env: 'TAPSTACK_ALERT_TELEGRAM_BOT_TOKEN', at: 'monitoring.alerts.telegram.botToken', doc: 'Alerts: Telegram bot token (or TAPSTACK_ALERT_TELEGRAM_BOT_TOKEN_FILE); needs TAPSTACK_ALERT_TELEGRAM_CHAT_ID.', schema: z.string(), default: '', secret: true }),
  alertTelegramChatId: v({ env: 'TAPSTACK_ALERT_TELEGRAM_CHAT_ID', at: 'monitoring.alerts.telegram.chatId', doc: 'Alerts: Telegram chat id.', schema: z.string().regex(/^(-?\d+)?$/, 'a numeric chat id'), default: '' }),
  alertHeartbeatUrl: v({ env: 'TAPSTACK_ALERT_HEARTBEAT_URL', at: 'monitoring.alerts.heartbeatUrl', doc: 'Dead man\'s switch: URL the always-firing Watchdog alert is POSTed to every few minutes (healthchecks.io style; or TAPSTACK_ALERT_HEARTBEAT_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  logLevel: v({ env: 'TAPSTACK_LOG_LEVEL', at: 'logLevel', doc: 'pino log level.', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info' }),
  logLevels: v({
    env: 'TAPSTACK_LOG_LEVELS', at: 'logLevels',
    doc: 'Per-process override of TAPSTACK_LOG_LEVEL, e.g. writer=debug,api=warn (names: api, realtime, writer, ingest, quoter, resolver, scheduler, backup, archiver, health-listener).',
    schema: z
      .string()
      .regex(new RegExp(`^(${LEVEL}(,${LEVEL})*)?$`), 'comma-separated process=level pairs')
      .transform((s) => Object.fromEntries(s ? s.split(',').map((p) => p.split('=') as [string, string]) : [])),
    default: '',
  }),
  shutdownTimeoutMs: v({ env: 'TAPSTACK_SHUTDOWN_TIMEOUT_MS', at: 'shutdownTimeoutMs', doc: 'Longest graceful shutdown before a forced exit.', schema: posInt, default: '10000' }),
} as const;

export type FeedSourceName = 'synthetic' | 'coinbase' | 'binance' | 'kraken';
