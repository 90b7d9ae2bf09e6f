/**
 * Every TAPSTACK_* variable: name, meaning, validation and default. The order is the order of the
 * env table in README.md and DEPLOY.md. `loadConfig` (config.ts) turns these into the typed Config.
 */
import { validate as validCron } from 'node-cron';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const port = z.coerce.number().int().min(0).max(65535);
const posInt = z.coerce.number().int().positive();
const urlOrEmpty = z.union([z.literal(''), z.url()]);
const LEVEL = '[a-z-]+=(fatal|error|warn|info|debug|trace|silent)';

export interface VarSpec<S extends z.ZodType = z.ZodType> {
  env: string;
  doc: string;
  schema: S;
  /** Raw default as a string, parsed like user input. Omitted = required. */
  default?: string;
  secret?: boolean;
}

function v<S extends z.ZodType>(spec: VarSpec<S>): VarSpec<S> {
  return spec;
}

/** Every variable Tapstack reads. Order is the order of the env table in DEPLOY.md. */
export const CONFIG_SPEC = {
  dataDir: v({ env: 'TAPSTACK_DATA_DIR', doc: 'Directory holding the SQLite database and generated secrets.', schema: z.string().min(1), default: './data' }),
  httpHost: v({ env: 'TAPSTACK_HTTP_HOST', doc: 'Address the API listens on.', schema: z.string().min(1), default: '127.0.0.1' }),
  httpPort: v({ env: 'TAPSTACK_HTTP_PORT', doc: 'Port the API listens on (0 = any free port).', schema: port, default: '8080' }),
  trustProxy: v({ env: 'TAPSTACK_TRUST_PROXY', doc: 'Trust X-Forwarded-* from the reverse proxy (one hop) for client IP and scheme.', schema: bool, default: 'true' }),
  publicOrigin: v({
    env: 'TAPSTACK_PUBLIC_ORIGIN',
    doc: 'Origin players use (scheme://host[:port]); SIWE messages must name it as URI origin.',
    schema: z.url().refine((u) => new URL(u).origin === u.replace(/\/$/, ''), 'must be an origin: scheme://host[:port] without a path'),
    default: 'https://localhost',
  }),
  siweDomain: v({ env: 'TAPSTACK_SIWE_DOMAIN', doc: 'Domain SIWE messages must name; empty = host of TAPSTACK_PUBLIC_ORIGIN.', schema: z.string(), default: '' }),
  siweChainIds: v({
    env: 'TAPSTACK_SIWE_CHAIN_IDS',
    doc: 'Comma-separated allow-list of EIP-155 chain ids accepted at sign-in.',
    schema: z.string().regex(/^\d+(,\d+)*$/, 'comma-separated positive integers').transform((s) => s.split(',').map(Number)),
    default: '1',
  }),
  siweMaxSkewSeconds: v({ env: 'TAPSTACK_SIWE_MAX_SKEW_SECONDS', doc: 'Largest accepted |now - issuedAt| of a SIWE message.', schema: posInt.max(300), default: '30' }),
  nonceTtlSeconds: v({ env: 'TAPSTACK_NONCE_TTL_SECONDS', doc: 'Lifetime of a sign-in nonce.', schema: posInt.max(3600), default: '90' }),
  sessionTtlSeconds: v({ env: 'TAPSTACK_SESSION_TTL_SECONDS', doc: 'Lifetime of a session token.', schema: posInt, default: '86400' }),
  authRateIpPerMinute: v({ env: 'TAPSTACK_AUTH_RATE_IP_PER_MINUTE', doc: 'Sign-in attempts (nonce + verify) allowed per client IP per minute.', schema: posInt, default: '30' }),
  authRateAddressPerMinute: v({ env: 'TAPSTACK_AUTH_RATE_ADDRESS_PER_MINUTE', doc: 'Sign-in verifications allowed per wallet address per minute.', schema: posInt, default: '10' }),
  redisUrl: v({ env: 'TAPSTACK_REDIS_URL', doc: 'Redis URL (redis://host:port/db); the password goes in TAPSTACK_REDIS_PASSWORD.', schema: z.url(), default: 'redis://127.0.0.1:6379/0' }),
  redisPassword: v({ env: 'TAPSTACK_REDIS_PASSWORD', doc: 'Redis password (or TAPSTACK_REDIS_PASSWORD_FILE).', schema: z.string(), default: '', secret: true }),
  redisPrefix: v({ env: 'TAPSTACK_REDIS_PREFIX', doc: 'Prefix of every Redis key.', schema: z.string().regex(/^[A-Za-z0-9_.:-]*$/), default: 'tapstack:' }),
  sqliteSynchronous: v({ env: 'TAPSTACK_SQLITE_SYNCHRONOUS', doc: 'SQLite synchronous pragma: FULL survives power loss, NORMAL only process crashes.', schema: z.enum(['FULL', 'NORMAL']), default: 'FULL' }),
  currencyCode: v({ env: 'TAPSTACK_CURRENCY_CODE', doc: 'Display code of the account currency.', schema: z.string().regex(/^[A-Z]{2,6}$/), default: 'USD' }),
  currencyDecimals: v({ env: 'TAPSTACK_CURRENCY_DECIMALS', doc: 'Decimals of the currency: balances are integers of 10^-decimals units.', schema: z.coerce.number().int().min(0).max(8), default: '2' }),
  demoMode: v({ env: 'TAPSTACK_DEMO_MODE', doc: 'Grant TAPSTACK_DEMO_GRANT to every new wallet at first sign-in (a ledger row).', schema: bool, default: 'false' }),
  demoGrant: v({ env: 'TAPSTACK_DEMO_GRANT', doc: 'Demo starting balance in currency units, e.g. 1000 or 12.50.', schema: z.string().regex(/^\d+(\.\d+)?$/), default: '1000' }),
  integrityCron: v({ env: 'TAPSTACK_INTEGRITY_CRON', doc: 'Cron expression (UTC) of the scheduled ledger integrity check.', schema: z.string().refine((c) => validCron(c), 'not a valid cron expression'), default: '17 3 * * *' }),
  schedulerPort: v({ env: 'TAPSTACK_SCHEDULER_PORT', doc: 'Port of the scheduler health/metrics listener.', schema: port, default: '9464' }),
  feedSources: v({
    env: 'TAPSTACK_FEED_SOURCES',
    doc: 'Comma-separated price sources combined by median: synthetic (offline default), coinbase, binance, kraken.',
    schema: z.string().regex(/^(synthetic|coinbase|binance|kraken)(,(synthetic|coinbase|binance|kraken))*$/, 'comma-separated list of synthetic, coinbase, binance, kraken').transform((s) => [...new Set(s.split(','))] as FeedSourceName[]),
    default: 'synthetic',
  }),
  feedRecordFile: v({ env: 'TAPSTACK_FEED_RECORD_FILE', doc: 'If set, append every raw feed message to this file (one JSON line each) for replay.', schema: z.string(), default: '' }),
  feedMinSources: v({ env: 'TAPSTACK_FEED_MIN_SOURCES', doc: 'Sources that must agree before a median price is published.', schema: posInt, default: '1' }),
  feedMaxDeviationBps: v({ env: 'TAPSTACK_FEED_MAX_DEVIATION_BPS', doc: 'A source further than this (basis points) from the median is rejected as an outlier.', schema: posInt, default: '50' }),
  feedSourceStaleMs: v({ env: 'TAPSTACK_FEED_SOURCE_STALE_MS', doc: 'A source price older than this no longer counts toward the median.', schema: posInt, default: '5000' }),
  syntheticStartPrice: v({ env: 'TAPSTACK_SYNTHETIC_START_PRICE', doc: 'Synthetic source: starting BTC price in USD.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), default: '100000' }),
  syntheticSigmaAnnual: v({ env: 'TAPSTACK_SYNTHETIC_SIGMA_ANNUAL', doc: 'Synthetic source: annualised volatility (0.5 = 50 %).', schema: z.coerce.number().positive().max(10), default: '0.5' }),
  syntheticTickMs: v({ env: 'TAPSTACK_SYNTHETIC_TICK_MS', doc: 'Synthetic source: milliseconds between ticks.', schema: posInt.min(10).max(10_000), default: '250' }),
  syntheticSeed: v({ env: 'TAPSTACK_SYNTHETIC_SEED', doc: 'Synthetic source: PRNG seed (empty = random per start).', schema: z.string().regex(/^\d*$/), default: '' }),
  breakerStaleSeconds: v({ env: 'TAPSTACK_BREAKER_STALE_SECONDS', doc: 'A price older than this opens the circuit breaker (taps refused).', schema: posInt, default: '10' }),
  breakerRecoverySeconds: v({ env: 'TAPSTACK_BREAKER_RECOVERY_SECONDS', doc: 'Continuously fresh prices needed before the breaker closes again.', schema: posInt, default: '30' }),
  tickRetentionDays: v({ env: 'TAPSTACK_TICK_RETENTION_DAYS', doc: 'Days of settlement ticks kept in Redis.', schema: posInt.max(60), default: '7' }),
  gridRows: v({ env: 'TAPSTACK_GRID_ROWS', doc: 'Price bands in the grid.', schema: posInt.max(40), default: '10' }),
  gridRowHeight: v({ env: 'TAPSTACK_GRID_ROW_HEIGHT', doc: 'Height of a price band in USD.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), default: '10' }),
  gridColumns: v({ env: 'TAPSTACK_GRID_COLUMNS', doc: 'Time windows in the grid.', schema: posInt.max(40), default: '8' }),
  gridColumnSeconds: v({ env: 'TAPSTACK_GRID_COLUMN_SECONDS', doc: 'Length of a time window in seconds.', schema: posInt.max(3600), default: '5' }),
  gridLockSeconds: v({ env: 'TAPSTACK_GRID_LOCK_SECONDS', doc: 'Windows starting sooner than this are locked (no taps).', schema: z.coerce.number().int().min(0).max(3600), default: '5' }),
  quoteHz: v({ env: 'TAPSTACK_QUOTE_HZ', doc: 'Grid re-quotes per second (1-4).', schema: z.coerce.number().min(1).max(4), default: '2' }),
  quoteTtlMs: v({ env: 'TAPSTACK_QUOTE_TTL_MS', doc: 'How long a quote is valid for placing a bet.', schema: posInt.min(250).max(60_000), default: '2000' }),
  houseEdge: v({ env: 'TAPSTACK_HOUSE_EDGE', doc: 'House edge per unit staked, e.g. 0.05 = 5 %.', schema: z.coerce.number().min(0).max(0.5), default: '0.05' }),
  multiplierMin: v({ env: 'TAPSTACK_MULTIPLIER_MIN', doc: 'Smallest multiplier offered; cells where it would favour the player are disabled.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), default: '1.01' }),
  multiplierMax: v({ env: 'TAPSTACK_MULTIPLIER_MAX', doc: 'Largest multiplier offered.', schema: z.string().regex(/^\d+(\.\d{1,2})?$/), default: '100' }),
  volHalfLifeSeconds: v({ env: 'TAPSTACK_VOL_HALF_LIFE_SECONDS', doc: 'Half-life of the EWMA volatility estimate.', schema: posInt, default: '300' }),
  volFloorAnnual: v({ env: 'TAPSTACK_VOL_FLOOR_ANNUAL', doc: 'Lowest annualised volatility used for pricing.', schema: z.coerce.number().positive(), default: '0.2' }),
  volCapAnnual: v({ env: 'TAPSTACK_VOL_CAP_ANNUAL', doc: 'Highest annualised volatility used for pricing.', schema: z.coerce.number().positive(), default: '3' }),
  volInitialAnnual: v({ env: 'TAPSTACK_VOL_INITIAL_ANNUAL', doc: 'Annualised volatility assumed until enough 1-s returns are seen.', schema: z.coerce.number().positive(), default: '0.5' }),
  stakeMin: v({ env: 'TAPSTACK_STAKE_MIN', doc: 'Smallest stake per tap, in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), default: '0.10' }),
  stakeMax: v({ env: 'TAPSTACK_STAKE_MAX', doc: 'Largest stake per tap, in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), default: '100' }),
  betRatePerSecond: v({ env: 'TAPSTACK_BET_RATE_PER_SECOND', doc: 'Taps accepted per wallet per second.', schema: posInt, default: '20' }),
  cellLiabilityCap: v({ env: 'TAPSTACK_CELL_LIABILITY_CAP', doc: 'Largest total potential payout (stake x multiplier) on one cell, in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), default: '10000' }),
  columnLiabilityCap: v({ env: 'TAPSTACK_COLUMN_LIABILITY_CAP', doc: 'Largest total potential payout on one time window (column), in currency units.', schema: z.string().regex(/^\d+(\.\d+)?$/), default: '50000' }),
  idempotencyRetrySeconds: v({
    env: 'TAPSTACK_IDEMPOTENCY_RETRY_SECONDS',
    doc: 'How long after a tap a client may retry it with the same Idempotency-Key and get the original answer (kept for this plus the quote lifetime).',
    schema: posInt.max(86_400),
    default: '120',
  }),
  admissionRedisMemoryPercent: v({
    env: 'TAPSTACK_ADMISSION_REDIS_MEMORY_PERCENT',
    doc: 'Refuse taps (503 capacity) while Redis uses more than this share of its maxmemory; the rest is headroom for the writer.',
    schema: z.coerce.number().int().min(10).max(99),
    default: '85',
  }),
  admissionWriterBacklog: v({ env: 'TAPSTACK_ADMISSION_WRITER_BACKLOG', doc: 'Refuse taps (503 capacity) while more than this many entries wait for the writer.', schema: posInt, default: '60000' }),
  writerBatchMax: v({ env: 'TAPSTACK_WRITER_BATCH_MAX', doc: 'Most queue entries the writer commits in one SQLite transaction.', schema: posInt.max(20_000), default: '2000' }),
  writerPort: v({ env: 'TAPSTACK_WRITER_PORT', doc: 'Port of the writer process health/metrics listener.', schema: port, default: '9468' }),
  realtimeHost: v({ env: 'TAPSTACK_REALTIME_HOST', doc: 'Address the realtime (socket.io) service listens on.', schema: z.string().min(1), default: '127.0.0.1' }),
  realtimePort: v({ env: 'TAPSTACK_REALTIME_PORT', doc: 'Port of the realtime (socket.io) service.', schema: port, default: '8081' }),
  ingestPort: v({ env: 'TAPSTACK_INGEST_PORT', doc: 'Port of the ingest process health/metrics listener.', schema: port, default: '9465' }),
  quoterPort: v({ env: 'TAPSTACK_QUOTER_PORT', doc: 'Port of the quoter process health/metrics listener.', schema: port, default: '9466' }),
  resolverPort: v({ env: 'TAPSTACK_RESOLVER_PORT', doc: 'Port of the resolver process health/metrics listener.', schema: port, default: '9467' }),
  resolverIntervalMs: v({ env: 'TAPSTACK_RESOLVER_INTERVAL_MS', doc: 'Resolver: pause between two passes over the open bets.', schema: posInt.min(50).max(60_000), default: '500' }),
  resolverGraceMs: v({ env: 'TAPSTACK_RESOLVER_GRACE_MS', doc: 'Resolver: wait this long after a window ends before deciding its bets (late ticks still being written).', schema: z.coerce.number().int().min(0).max(60_000), default: '1500' }),
  resolverMaxWaitMs: v({
    env: 'TAPSTACK_RESOLVER_MAX_WAIT_MS',
    doc: 'Resolver: decide a window with the ticks that exist this long after its end, even if the feed looks fresh but no later tick has arrived.',
    schema: posInt.max(3_600_000),
    default: '30000',
  }),
  workerHost: v({ env: 'TAPSTACK_WORKER_HOST', doc: 'Address the worker health/metrics listeners bind to.', schema: z.string().min(1), default: '127.0.0.1' }),
  tlsDir: v({ env: 'TAPSTACK_TLS_DIR', doc: 'Directory of the generated TLS key and self-signed certificate; empty = <data dir>/tls.', schema: z.string(), default: '' }),
  tlsCertFile: v({ env: 'TAPSTACK_TLS_CERT_FILE', doc: 'Operator-provided certificate chain (PEM); empty = the generated self-signed one.', schema: z.string(), default: '' }),
  tlsKeyFile: v({ env: 'TAPSTACK_TLS_KEY_FILE', doc: 'Private key of TAPSTACK_TLS_CERT_FILE (PEM).', schema: z.string(), default: '' }),
  hstsMaxAge: v({ env: 'TAPSTACK_HSTS_MAX_AGE', doc: 'HSTS max-age in seconds sent on every HTTPS response.', schema: z.coerce.number().int().min(0), default: '31536000' }),
  nginxListen: v({ env: 'TAPSTACK_NGINX_LISTEN', doc: 'Address nginx listens on.', schema: z.string().min(1), default: '0.0.0.0' }),
  nginxHttpPort: v({ env: 'TAPSTACK_NGINX_HTTP_PORT', doc: 'nginx plain-HTTP port (redirects to HTTPS, serves ACME challenges).', schema: port, default: '80' }),
  nginxHttpsPort: v({ env: 'TAPSTACK_NGINX_HTTPS_PORT', doc: 'nginx HTTPS port.', schema: port, default: '443' }),
  apiUpstream: v({ env: 'TAPSTACK_API_UPSTREAM', doc: 'host:port nginx proxies /api to.', schema: z.string().regex(/^[A-Za-z0-9.-]+:\d+$/), default: '127.0.0.1:8080' }),
  realtimeUpstream: v({ env: 'TAPSTACK_REALTIME_UPSTREAM', doc: 'host:port nginx proxies /socket.io to.', schema: z.string().regex(/^[A-Za-z0-9.-]+:\d+$/), default: '127.0.0.1:8081' }),
  webRoot: v({ env: 'TAPSTACK_WEB_ROOT', doc: 'Directory nginx serves the web UI from; empty = <app>/web/dist (the built web app). Setup copies the UI there when it differs (compose: the runtime volume).', schema: z.string(), default: '' }),
  dataMinFreeMb: v({ env: 'TAPSTACK_DATA_MIN_FREE_MB', doc: 'Refuse to start with less free space than this on the data volume.', schema: z.coerce.number().int().min(0), default: '256' }),
  dataRequireMount: v({ env: 'TAPSTACK_DATA_REQUIRE_MOUNT', doc: 'Refuse to start unless the data directory is a mount point (set in the images).', schema: bool, default: 'false' }),
  allowUnmarkedData: v({ env: 'TAPSTACK_ALLOW_UNMARKED_DATA', doc: 'Override: accept a non-empty data directory without the first-boot marker (adopts it).', schema: bool, default: 'false' }),
  healthFailures: v({ env: 'TAPSTACK_HEALTH_FAILURES', doc: 'AIO: consecutive failed health probes (5 s apart) before the listener restarts a program.', schema: posInt.max(100), default: '3' }),
  startTimeoutSeconds: v({ env: 'TAPSTACK_START_TIMEOUT_SECONDS', doc: 'AIO: how long a program waits for its dependencies to become healthy before giving up.', schema: posInt.max(3600), default: '60' }),
  backupConfigFile: v({ env: 'TAPSTACK_BACKUP_CONFIG_FILE', doc: 'JSON file of backup targets, schedules and retention (DEPLOY.md "Backups"); empty = <data dir>/backup.json if present.', schema: z.string(), default: '' }),
  backupRecipients: v({ env: 'TAPSTACK_BACKUP_RECIPIENTS', doc: 'Comma-separated age X25519 recipients (age1...) backups are encrypted to; `tapstack backup keygen` makes one.', schema: z.string().regex(/^(age1[02-9ac-hj-np-z]{58}(,age1[02-9ac-hj-np-z]{58})*)?$/, 'comma-separated age1... recipients'), default: '' }),
  backupPassphrase: v({ env: 'TAPSTACK_BACKUP_PASSPHRASE', doc: 'Optional passphrase that can also decrypt backups (or TAPSTACK_BACKUP_PASSPHRASE_FILE).', schema: z.string(), default: '', secret: true }),
  backupStagingDir: v({ env: 'TAPSTACK_BACKUP_STAGING_DIR', doc: 'Where consistent snapshots are staged before upload; empty = <data dir>/backup-staging.', schema: z.string(), default: '' }),
  backupContinuous: v({ env: 'TAPSTACK_BACKUP_CONTINUOUS', doc: 'Ship committed SQLite changes (WAL) continuously for point-in-time restore (RPO of seconds).', schema: bool, default: 'false' }),
  backupContinuousIntervalMs: v({ env: 'TAPSTACK_BACKUP_CONTINUOUS_INTERVAL_MS', doc: 'How often continuous mode ships new WAL frames.', schema: posInt.min(100).max(60_000), default: '1000' }),
  backupIdentity: v({
    env: 'TAPSTACK_BACKUP_IDENTITY',
    doc: 'age identity (AGE-SECRET-KEY-1...) for verify drills and restore, usually as TAPSTACK_BACKUP_IDENTITY_FILE; leave unset so the appliance cannot read its own backups (drills then check ciphertext only).',
    schema: z.string(),
    default: '',
    secret: true,
  }),
  backupPort: v({ env: 'TAPSTACK_BACKUP_PORT', doc: 'Port of the backup scheduler health/metrics listener.', schema: port, default: '9469' }),
  archiveTarget: v({ env: 'TAPSTACK_ARCHIVE_TARGET', doc: 'Name of the backup-config target (DEPLOY.md "Weekly archival") closed weeks are archived to; empty = archival off.', schema: z.string().regex(/^([a-z0-9][a-z0-9_-]{0,39})?$/), default: '' }),
  archiveDir: v({ env: 'TAPSTACK_ARCHIVE_DIR', doc: 'Directory of the local, read-only week files (bets-YYYY-Www.db); empty = <data dir>/archive.', schema: z.string(), default: '' }),
  archiveKeepLocalWeeks: v({ env: 'TAPSTACK_ARCHIVE_KEEP_LOCAL_WEEKS', doc: 'Archived weeks kept locally (read-only, queryable) besides the copy in the archive target.', schema: z.coerce.number().int().min(0).max(520), default: '4' }),
  archiveCron: v({ env: 'TAPSTACK_ARCHIVE_CRON', doc: 'Cron expression (UTC) of the archiver\'s look for closed weeks (a run resumes a killed one).', schema: z.string().refine((c) => validCron(c), 'not a valid cron expression'), default: '40 * * * *' }),
  archiveGraceHours: v({ env: 'TAPSTACK_ARCHIVE_GRACE_HOURS', doc: 'A week is closed this many hours after its end (Monday 00:00 UTC).', schema: z.coerce.number().int().min(0).max(168), default: '6' }),
  archiveDeleteBatch: v({ env: 'TAPSTACK_ARCHIVE_DELETE_BATCH', doc: 'Rows deleted per short transaction once a week is archived and verified.', schema: posInt.max(100_000), default: '2000' }),
  archivePort: v({ env: 'TAPSTACK_ARCHIVE_PORT', doc: 'Port of the archiver health/metrics listener.', schema: port, default: '9471' }),
  monitoring: v({ env: 'TAPSTACK_MONITORING', doc: 'AIO and native run: also run Prometheus and Alertmanager under supervisord (compose: the `monitoring` profile).', schema: bool, default: 'false' }),
  monitoringHost: v({ env: 'TAPSTACK_MONITORING_HOST', doc: 'AIO: address Prometheus and Alertmanager listen on (loopback; publish it deliberately for an external Grafana).', schema: z.string().min(1), default: '127.0.0.1' }),
  prometheusPort: v({ env: 'TAPSTACK_PROMETHEUS_PORT', doc: 'AIO: Prometheus port.', schema: port, default: '9090' }),
  alertmanagerPort: v({ env: 'TAPSTACK_ALERTMANAGER_PORT', doc: 'AIO: Alertmanager port.', schema: port, default: '9093' }),
  prometheusRetention: v({ env: 'TAPSTACK_PROMETHEUS_RETENTION', doc: 'How long Prometheus keeps samples (e.g. 15d).', schema: z.string().regex(/^\d+[dhw]$/, 'a duration such as 15d'), default: '15d' }),
  healthMetricsPort: v({ env: 'TAPSTACK_HEALTH_METRICS_PORT', doc: 'AIO: port of the health listener metrics (probe results, restarts), on TAPSTACK_WORKER_HOST.', schema: port, default: '9470' }),
  alertWebhookUrl: v({ env: 'TAPSTACK_ALERT_WEBHOOK_URL', doc: 'Alerts: webhook receiver URL (Alertmanager JSON; or TAPSTACK_ALERT_WEBHOOK_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  alertEmailTo: v({ env: 'TAPSTACK_ALERT_EMAIL_TO', doc: 'Alerts: comma-separated e-mail recipients (needs TAPSTACK_ALERT_SMTP_SMARTHOST).', schema: z.string(), default: '' }),
  alertEmailFrom: v({ env: 'TAPSTACK_ALERT_EMAIL_FROM', doc: 'Alerts: sender address of alert e-mails.', schema: z.string(), default: 'tapstack-alerts@localhost' }),
  alertSmtpSmarthost: v({ env: 'TAPSTACK_ALERT_SMTP_SMARTHOST', doc: 'Alerts: SMTP server as host:port.', schema: z.string().regex(/^([A-Za-z0-9.-]+:\d+)?$/, 'host:port'), default: '' }),
  alertSmtpUsername: v({ env: 'TAPSTACK_ALERT_SMTP_USERNAME', doc: 'Alerts: SMTP user name (empty = no authentication).', schema: z.string(), default: '' }),
  alertSmtpPassword: v({ env: 'TAPSTACK_ALERT_SMTP_PASSWORD', doc: 'Alerts: SMTP password (or TAPSTACK_ALERT_SMTP_PASSWORD_FILE).', schema: z.string(), default: '', secret: true }),
  alertSmtpRequireTls: v({ env: 'TAPSTACK_ALERT_SMTP_REQUIRE_TLS', doc: 'Alerts: require STARTTLS to the SMTP server.', schema: bool, default: 'true' }),
  alertSlackWebhookUrl: v({ env: 'TAPSTACK_ALERT_SLACK_WEBHOOK_URL', doc: 'Alerts: Slack incoming-webhook URL (or TAPSTACK_ALERT_SLACK_WEBHOOK_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  alertDiscordWebhookUrl: v({ env: 'TAPSTACK_ALERT_DISCORD_WEBHOOK_URL', doc: 'Alerts: Discord webhook URL (or TAPSTACK_ALERT_DISCORD_WEBHOOK_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  alertTelegramBotToken: v({ env: 'TAPSTACK_ALERT_TELEGRAM_BOT_TOKEN', doc: 'Alerts: Telegram bot token (or TAPSTACK_ALERT_TELEGRAM_BOT_TOKEN_FILE); needs TAPSTACK_ALERT_TELEGRAM_CHAT_ID.', schema: z.string(), default: '', secret: true }),
  alertTelegramChatId: v({ env: 'TAPSTACK_ALERT_TELEGRAM_CHAT_ID', doc: 'Alerts: Telegram chat id.', schema: z.string().regex(/^(-?\d+)?$/, 'a numeric chat id'), default: '' }),
  alertHeartbeatUrl: v({ env: 'TAPSTACK_ALERT_HEARTBEAT_URL', doc: 'Dead man\'s switch: URL the always-firing Watchdog alert is POSTed to every few minutes (healthchecks.io style; or TAPSTACK_ALERT_HEARTBEAT_URL_FILE).', schema: urlOrEmpty, default: '', secret: true }),
  logLevel: v({ env: 'TAPSTACK_LOG_LEVEL', doc: 'pino log level.', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info' }),
  logLevels: v({
    env: 'TAPSTACK_LOG_LEVELS',
    doc: 'Per-process override of TAPSTACK_LOG_LEVEL, e.g. writer=debug,api=warn (names: api, realtime, writer, ingest, quoter, resolver, scheduler, backup, archiver, health-listener).',
    schema: z
      .string()
      .regex(new RegExp(`^(${LEVEL}(,${LEVEL})*)?$`), 'comma-separated process=level pairs')
      .transform((s) => Object.fromEntries(s ? s.split(',').map((p) => p.split('=') as [string, string]) : [])),
    default: '',
  }),
  shutdownTimeoutMs: v({ env: 'TAPSTACK_SHUTDOWN_TIMEOUT_MS', doc: 'Longest graceful shutdown before a forced exit.', schema: posInt, default: '10000' }),
} as const;

export type FeedSourceName = 'synthetic' | 'coinbase' | 'binance' | 'kraken';
