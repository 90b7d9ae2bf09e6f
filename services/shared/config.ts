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
import { CONFIG_SPEC, type BuildContext, type FeedSourceName, type VarSpec } from './config-spec.js';

export { CONFIG_SPEC, type FeedSourceName };

type Spec = typeof CONFIG_SPEC;
type SpecKey = keyof Spec;
/** Every variable's validated value, before conversion, by its spec key. */
type Raw = { [K in SpecKey]: z.output<Spec[K]['schema']> };

// ---- The Config type, derived from the spec: each variable's `to` result at its `at` path. ----

type DeepReadonly<T> = T extends readonly (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;
/** [path, value type] of every variable that lands in Config. */
type Placed = { [K in SpecKey]: Spec[K] extends VarSpec<infer T, infer P> ? (P extends string ? [P, T] : never) : never }[SpecKey];
type Head<P extends string> = P extends `${infer H}.${string}` ? H : P;
type Under<E, K extends string> = E extends [`${K}.${infer Rest}`, infer T] ? [Rest, T] : never;
type Nest<E extends [string, unknown]> = {
  readonly [K in Head<E[0]>]: [Extract<E, [K, unknown]>] extends [never] ? Nest<Under<E, K>> : DeepReadonly<Extract<E, [K, unknown]>[1]>;
};
type Expand<T> = T extends (...args: never[]) => unknown ? T : T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]: Expand<T[K]> } : T;

/** Fields computed from several variables (or none): the only part of Config not placed by the spec. */
interface Derived {
  readonly dbFile: string;
  readonly siwe: { readonly domain: string; readonly origin: string };
  readonly session: { readonly cookieName: string };
  /** Idempotency-Key lifetime: quote lifetime + TAPSTACK_IDEMPOTENCY_RETRY_SECONDS. */
  readonly betting: { readonly idempotencyTtlSeconds: number };
}

/** The one typed, validated, frozen configuration: the spec's values at their paths, plus `Derived`. */
export type Config = Expand<Nest<Placed> & Derived>;

function derive(raw: Raw, placed: Nest<Placed>): Derived {
  return {
    dbFile: path.join(placed.dataDir, 'tapstack.db'),
    siwe: { domain: raw.siweDomain || new URL(placed.publicOrigin).host, origin: placed.publicOrigin },
    session: { cookieName: 'tapstack_session' },
    betting: { idempotencyTtlSeconds: Math.ceil(raw.quoteTtlMs / 1000) + raw.idempotencyRetrySeconds },
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Env vars read by scripts and entrypoints rather than by the processes; known, so not typos. */
const SCRIPT_VARS = new Set(['TAPSTACK_HOME', 'TAPSTACK_RUN_DIR']);
const MASK = '********';
const specs = Object.entries(CONFIG_SPEC) as [SpecKey, VarSpec][];

/** Build the frozen config from an environment; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Config {
  const problems: string[] = [];
  const raw = validate(env, problems);
  problems.push(...unknownNames(env));
  if (problems.length > 0) throw new ConfigError(problems);

  const cwd = opts.cwd ?? process.cwd();
  const ctx: BuildContext = { cwd, dataDir: path.resolve(cwd, raw.dataDir), decimals: raw.currencyDecimals };
  const placed = place(raw, ctx, problems);
  const config = merge(placed, derive(raw, placed)) as Config;
  problems.push(...crossChecks(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** Step 1: each variable read (from the env, its `_FILE` or its default) and validated by its schema. */
function validate(env: NodeJS.ProcessEnv, problems: string[]): Raw {
  const raw: Partial<Record<SpecKey, unknown>> = {};
  for (const [key, spec] of specs) {
    const value = readValue(env, spec, problems);
    if (value === null) continue;
    const parsed = spec.schema.safeParse(value);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      problems.push(`${spec.env}=${spec.secret ? '<secret>' : JSON.stringify(value)}: ${why}`);
      continue;
    }
    raw[key] = parsed.data;
  }
  return raw as Raw;
}

/** The text of one variable, or null after recording why there is none. */
function readValue(env: NodeJS.ProcessEnv, spec: VarSpec, problems: string[]): string | null {
  let value = env[spec.env];
  const file = spec.secret ? env[`${spec.env}_FILE`] : undefined;
  if (file !== undefined && file !== '') {
    if (value !== undefined && value !== '') {
      problems.push(`${spec.env} and ${spec.env}_FILE are both set; set one`);
      return null;
    }
    try {
      value = readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push(`${spec.env}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return null;
    }
  }
  value ??= spec.default;
  if (value === undefined) {
    problems.push(`${spec.env} is required: ${spec.doc}`);
    return null;
  }
  return value;
}

/** TAPSTACK_* names that are no setting: typos, refused. */
function unknownNames(env: NodeJS.ProcessEnv): string[] {
  const known = new Set<string>(SCRIPT_VARS);
  for (const [, spec] of specs) {
    known.add(spec.env);
    if (spec.secret) known.add(`${spec.env}_FILE`);
  }
  return Object.keys(env)
    .filter((name) => name.startsWith('TAPSTACK_') && !known.has(name))
    .map((name) => `${name} is not a Tapstack setting (typo?)`);
}

/** Step 2: each validated value converted (`to`) and put at its path (`at`). */
function place(raw: Raw, ctx: BuildContext, problems: string[]): Nest<Placed> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of specs) {
    if (spec.at === undefined) continue;
    try {
      setAt(out, spec.at, spec.to(raw[key], ctx));
    } catch (err) {
      problems.push(`${spec.env}=${spec.secret ? '<secret>' : JSON.stringify(raw[key])}: ${(err as Error).message}`);
    }
  }
  return out as Nest<Placed>;
}

/** Step 3: rules between variables (a value that failed to convert is absent and checks nothing). */
function crossChecks(c: Config): string[] {
  const p: string[] = [];
  const { quotes, volatility: vol, feed, appliance, betting } = c;
  const { email, telegram } = c.monitoring.alerts;
  if (quotes.minMultiplierCents < 100) p.push('TAPSTACK_MULTIPLIER_MIN must be at least 1.00');
  if (quotes.minMultiplierCents > quotes.maxMultiplierCents) p.push('TAPSTACK_MULTIPLIER_MIN must not exceed TAPSTACK_MULTIPLIER_MAX');
  if (vol.floorAnnual > vol.capAnnual) p.push('TAPSTACK_VOL_FLOOR_ANNUAL must not exceed TAPSTACK_VOL_CAP_ANNUAL');
  if (vol.initialAnnual < vol.floorAnnual || vol.initialAnnual > vol.capAnnual) p.push('TAPSTACK_VOL_INITIAL_ANNUAL must lie between the floor and the cap');
  if (feed.minSources > feed.sources.length) p.push(`TAPSTACK_FEED_MIN_SOURCES=${feed.minSources} exceeds the ${feed.sources.length} configured source(s)`);
  if (Boolean(appliance.tlsCertFile) !== Boolean(appliance.tlsKeyFile)) p.push('TAPSTACK_TLS_CERT_FILE and TAPSTACK_TLS_KEY_FILE must be set together');
  if (email.to && !email.smarthost) p.push('TAPSTACK_ALERT_EMAIL_TO needs TAPSTACK_ALERT_SMTP_SMARTHOST');
  if (Boolean(telegram.botToken) !== Boolean(telegram.chatId)) p.push('TAPSTACK_ALERT_TELEGRAM_BOT_TOKEN and TAPSTACK_ALERT_TELEGRAM_CHAT_ID must be set together');
  if (c.grid.rowHeightCents === 0) p.push('TAPSTACK_GRID_ROW_HEIGHT must be positive');
  const amounts = [['TAPSTACK_STAKE_MIN', betting.stakeMin], ['TAPSTACK_STAKE_MAX', betting.stakeMax], ['TAPSTACK_CELL_LIABILITY_CAP', betting.cellLiabilityCap], ['TAPSTACK_COLUMN_LIABILITY_CAP', betting.columnLiabilityCap]] as const;
  for (const [name, value] of amounts) if (value === 0) p.push(`${name} must be positive`);
  return p;
}

/** The config as it may be logged: every secret of the spec masked, every `redact` applied. */
export function maskedConfig(config: Config): Config {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  for (const [, spec] of specs) {
    if (spec.at === undefined || !(spec.secret || spec.redact)) continue;
    const value = getAt(config, spec.at);
    setAt(copy, spec.at, spec.secret ? (value ? MASK : '') : spec.redact?.(value));
  }
  return copy as unknown as Config;
}

function getAt(o: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, name) => (node as Record<string, unknown> | undefined)?.[name], o);
}

function setAt(o: Record<string, unknown>, dotted: string, value: unknown): void {
  const names = dotted.split('.');
  const last = names.pop() as string;
  let node = o;
  for (const name of names) node = (node[name] ??= {}) as Record<string, unknown>;
  node[last] = value;
}

/** `a` with `b`'s fields added, section by section. */
function merge(a: Record<string, unknown>, b: object): Record<string, unknown> {
  for (const [name, value] of Object.entries(b)) {
    const here = a[name];
    a[name] = here && typeof here === 'object' && value && typeof value === 'object' ? merge(here as Record<string, unknown>, value) : value;
  }
  return a;
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
