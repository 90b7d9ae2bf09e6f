/**
 * Readers for the deployment files (docker-compose.yaml, Dockerfiles, .dockerignore) used by the
 * static deployment tests: the compose file with YAML merge keys resolved as Compose resolves them,
 * `${VAR:-default}` substitution, and the mapping from paths inside the image to the repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export const REPO = process.cwd();
export const COMPOSE_FILE = path.join(REPO, 'docker-compose.yaml');

/** Every supervised app process: a folder of services/ with a main.ts (shared is a library). */
export function appProcesses(): string[] {
  return fs
    .readdirSync(path.join(REPO, 'services'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(REPO, 'services', d.name, 'main.ts')))
    .map((d) => d.name)
    .sort();
}

export interface Healthcheck {
  test?: string[] | string;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  disable?: boolean;
}

export interface Resources {
  cpus?: string | number;
  memory?: string;
}

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  user?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string; restart?: boolean; required?: boolean }>;
  healthcheck?: Healthcheck;
  ports?: (string | { published?: string | number; target?: number })[];
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  restart?: string;
  stop_grace_period?: string;
  logging?: { driver?: string; options?: Record<string, string> };
  deploy?: { resources?: { limits?: Resources; reservations?: Resources } };
  secrets?: unknown;
  [key: string]: unknown;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string; environment?: string }>;
  [key: string]: unknown;
}

/**
 * The compose file as Compose sees it with no operator settings: merge keys (`<<: *anchor`)
 * resolved and every string interpolated (`${NAME:-default}` → default, `$$` → `$`).
 */
export function loadCompose(file = COMPOSE_FILE): ComposeFile {
  return interpolateAll(parse(fs.readFileSync(file, 'utf8'), { merge: true })) as ComposeFile;
}

function interpolateAll(value: unknown): unknown {
  if (typeof value === 'string') return interpolateDefaults(value);
  if (Array.isArray(value)) return value.map(interpolateAll);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v)]));
  return value;
}

/** Compose `${NAME}`, `${NAME:-default}`, `${NAME-default}` and `$$`, with an empty environment. */
export function interpolateDefaults(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (whole, _name: string | undefined, def: string | undefined) =>
    whole === '$$' ? '$' : (def ?? ''),
  );
}

/** A service's environment as a name → value map (values as strings). */
export function serviceEnv(service: ComposeService): Record<string, string> {
  const env: Record<string, string> = {};
  const raw = service.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((item) => {
        const i = item.indexOf('=');
        return i < 0 ? [item, ''] : [item.slice(0, i), item.slice(i + 1)];
      })
    : Object.entries(raw);
  for (const [name, value] of entries) env[name] = value === null || value === undefined ? '' : String(value);
  return env;
}

export function asArgv(value: string[] | string | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map(String) : value.split(/\s+/).filter(Boolean);
}

/** `cpus` as a number, `memory` in MiB (Compose byte units: b, k, m, g with optional b/i). */
export function cpus(value: string | number | undefined): number {
  return value === undefined ? Number.NaN : Number(value);
}

export function memoryMiB(value: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg])?i?b?$/i.exec(String(value ?? '').trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = { b: 1 / (1024 * 1024), k: 1 / 1024, m: 1, g: 1024 }[unit] ?? Number.NaN;
  return n * factor;
}

/** Compose durations (`1m30s`, `500ms`, `15s`) in milliseconds. */
export function durationMs(value: string | undefined): number {
  if (!value) return Number.NaN;
  let total = 0;
  let rest = value.trim();
  const unit = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)/;
  if (rest === '') return Number.NaN;
  while (rest.length > 0) {
    const m = unit.exec(rest);
    if (!m) return Number.NaN;
    total += Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'us' | 'ms' | 's' | 'm' | 'h'];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/**
 * Where a path inside the app image comes from in this repository: `/app/dist/x.js` is the build
 * output `dist/x.js` (tsc of `x.ts`), `/app/scripts/x.sh` is `scripts/x.sh`, and so on. Undefined for
 * paths that are not the image's own files (volumes, system binaries).
 */
export function imagePathToRepo(p: string): string | undefined {
  if (!p.startsWith('/app/')) return undefined;
  return p.slice('/app/'.length);
}

/** The TypeScript source a `dist/` file is compiled from, to name it in failure messages. */
export function sourceOf(distFile: string): string {
  return distFile.replace(/^dist\//, '').replace(/\.js$/, '.ts');
}

/** The file names of a .dockerignore (comments and blank lines dropped). */
export function dockerignorePatterns(file = path.join(REPO, '.dockerignore')): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** Whether a context-relative path is excluded by .dockerignore (`*`, `?`, `**`, `!` re-inclusion). */
export function dockerignored(relPath: string, patterns = dockerignorePatterns()): boolean {
  let ignored = false;
  const target = relPath.replace(/\/+$/, '');
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+/, '').replace(/\/+$/, '');
    const re = new RegExp(
      `^${pattern
        .split('**/')
        .map((seg) =>
          seg
            .split('**')
            .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
            .join('.*'),
        )
        .join('(?:.*/)?')}(/.*)?$`,
    );
    if (re.test(target)) ignored = !negate;
  }
  return ignored;
}
