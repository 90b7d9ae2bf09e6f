/**
 * Step (d): the configuration files of the edge and of Redis, rendered from the config into the
 * run directory. nginx/nginx.conf.template is the one nginx configuration for every mode; the
 * rendered redis.conf is also what compose mounts into its redis container, hence `bind` derived
 * from the host of TAPSTACK_REDIS_URL (loopback natively and in the AIO image, every interface of
 * the private network when the URL names a compose service).
 */
import net from 'node:net';
import type { Config } from '../../services/shared/config.js';
import { SETUP_EXIT, refuse } from './exit-codes.js';

/** Replace every `{{NAME}}`; a name without a value, or a leftover `{{`, is a bug: throw. */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  const out = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`template names {{${name}}}, which setup does not provide`);
    return value;
  });
  const left = /\{\{[^}]*\}\}/.exec(out);
  if (left) throw new Error(`template has a malformed placeholder ${left[0]}`);
  return out;
}

/** `addr:port` for a listen directive; IPv6 literals in brackets. */
export function listenAddress(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return net.isIPv6(bare) ? `[${bare}]:${port}` : `${bare}:${port}`;
}

/**
 * `host[:port]` players use, for the redirect and the CSP: the host of TAPSTACK_PUBLIC_ORIGIN, not
 * the Host header (which would carry the container's port behind a port mapping).
 */
export function publicHttpsHost(publicOrigin: string, httpsPort: number): string {
  const u = new URL(publicOrigin);
  if (u.protocol === 'https:') return u.host;
  return httpsPort === 443 ? u.hostname : `${u.hostname}:${httpsPort}`;
}

// Values land unquoted in nginx.conf: refuse anything that could end a directive or be read as a
// variable, rather than emit a config that means something else.
const NGINX_SAFE = /^[A-Za-z0-9._/+@,:=~\[\]-]+$/;

export interface NginxPaths {
  nginxPrefix: string;
  webRoot: string;
  acmeRoot: string;
  certFile: string;
  keyFile: string;
}

export function nginxVars(config: Config, p: NginxPaths): Record<string, string> {
  const a = config.appliance;
  const vars: Record<string, string> = {
    NGINX_PREFIX: p.nginxPrefix,
    HTTP_LISTEN: listenAddress(a.nginxListen, a.nginxHttpPort),
    HTTPS_LISTEN: listenAddress(a.nginxListen, a.nginxHttpsPort),
    PUBLIC_HOST: publicHttpsHost(config.publicOrigin, a.nginxHttpsPort),
    API_UPSTREAM: a.apiUpstream,
    REALTIME_UPSTREAM: a.realtimeUpstream,
    TLS_CERT: p.certFile,
    TLS_KEY: p.keyFile,
    ACME_ROOT: p.acmeRoot,
    WEB_ROOT: p.webRoot,
    HSTS_MAX_AGE: String(a.hstsMaxAge),
  };
  const bad = Object.entries(vars).filter(([, v]) => !NGINX_SAFE.test(v));
  if (bad.length > 0) {
    throw refuse(
      SETUP_EXIT.config,
      'invalid-config',
      `cannot write these into nginx.conf (only letters, digits and ._/+@,:=~[]- are allowed): ${bad.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`,
    );
  }
  return vars;
}

/**
 * Whether Redis runs beside setup (the AIO image, a native run: a loopback name or an address) or
 * in a container of its own, named by a compose service (`redis://redis:6379`).
 */
export function redisIsLocal(redisUrl: string): boolean {
  const host = new URL(redisUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || net.isIP(host) !== 0;
}

/** `bind` for redis.conf from the host Redis is reached at. */
export function redisBind(redisUrl: string): string {
  const host = new URL(redisUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return '127.0.0.1 -::1';
  if (net.isIP(host)) return host;
  // A service name (compose): Redis has its own container on the private network.
  return '* -::*';
}

function redisQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

/**
 * `redisDir` is where a local Redis keeps its files (<data dir>/redis); undefined for a Redis in its
 * own container, whose command line names its volume (`--dir /data`): a `dir` line naming a
 * directory of *this* container would be applied while the file is read, before the command line,
 * and Redis would refuse to start (`FATAL CONFIG FILE ERROR ... No such file or directory`).
 */
export function renderRedisConf(config: Config, password: string, redisDir: string | undefined): string {
  const url = new URL(config.redis.url);
  return [
    '# Rendered by `tapstack setup` from TAPSTACK_REDIS_URL; do not edit (the next start rewrites it).',
    `bind ${redisBind(config.redis.url)}`,
    `port ${url.port || '6379'}`,
    'protected-mode yes',
    'daemonize no',
    'logfile ""',
    redisDir === undefined ? '# dir: given by the Redis container (its data volume).' : `dir ${redisQuote(redisDir)}`,
    `requirepass ${redisQuote(password)}`,
    '# Durability: AOF fsync every second plus RDB snapshots for fast restarts and backups.',
    'appendonly yes',
    'appendfsync everysec',
    'save 900 1 300 100 60 10000',
    // The AOF is the durable record; a failed RDB snapshot (a full disk) must not refuse writes
    // until the next snapshot succeeds minutes later. A failed AOF write still refuses them
    // (MISCONF), and Redis takes them again the moment its AOF can be written.
    'stop-writes-on-bgsave-error no',
    '# Bets are reserved in Redis: refuse writes when full rather than evict state.',
    'maxmemory 512mb',
    'maxmemory-policy noeviction',
    '',
  ].join('\n');
}
