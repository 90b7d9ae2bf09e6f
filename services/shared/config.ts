/**
 * The one typed, validated, frozen configuration of every Tapstack process.
 *
 * Built by `loadConfig(env)` from `TAPSTACK_*` variables and passed in by hand; never imported as a
 * global. Invalid input fails fast with a `ConfigError` listing *every* bad variable at once.
 * Secrets may also come from a file (`NAME_FILE=/run/secrets/...`), the Docker secrets convention.
 * The schema below is also the source of the env table in DEPLOY.md (checked by a test).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validate as validCron } from 'node-cron';
import { z } from 'zod';
import { parseAmount } from './money.js';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const port = z.coerce.number().int().min(0).max(65535);
const posInt = z.coerce.number().int().positive();

interface VarSpec<S extends z.ZodType = z.ZodType> {
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
  schedulerHost: v({ env: 'TAPSTACK_SCHEDULER_HOST', doc: 'Address of the scheduler health/metrics listener.', schema: z.string().min(1), default: '127.0.0.1' }),
  schedulerPort: v({ env: 'TAPSTACK_SCHEDULER_PORT', doc: 'Port of the scheduler health/metrics listener.', schema: port, default: '9464' }),
  logLevel: v({ env: 'TAPSTACK_LOG_LEVEL', doc: 'pino log level.', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info' }),
  shutdownTimeoutMs: v({ env: 'TAPSTACK_SHUTDOWN_TIMEOUT_MS', doc: 'Longest graceful shutdown before a forced exit.', schema: posInt, default: '10000' }),
} as const;

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
  readonly logLevel: string;
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
    scheduler: { host: r.schedulerHost, port: r.schedulerPort },
    logLevel: r.logLevel,
    shutdownTimeoutMs: r.shutdownTimeoutMs,
  };
  return deepFreeze(config);
}

/** The config as it may be logged: every secret replaced by a mask. */
export function maskedConfig(config: Config): Config {
  const url = new URL(config.redis.url);
  if (url.password) url.password = '********';
  return { ...config, redis: { ...config.redis, url: url.toString(), password: config.redis.password ? '********' : '' } };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const value of Object.values(o)) deepFreeze(value);
    Object.freeze(o);
  }
  return o;
}
