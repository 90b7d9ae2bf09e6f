/**
 * docker-compose.yaml as the compose test files read it: the appliance's services (no profile),
 * their kinds, the config each service's processes would build, and small readers of its fields.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisIsLocal, renderRedisConf } from '../../cli/setup/templates.js';
import { CONFIG_SPEC, loadConfig, type Config } from '../../services/shared/config.js';
import { REPO, asArgv, loadCompose, serviceEnv, type ComposeService } from './deploy-files.js';

export const compose = loadCompose();
// The appliance itself: services without a profile. The optional `monitoring` and `logs` profiles
// pass the same generic checks in deploy-monitoring.test.ts.
export const services = Object.fromEntries(Object.entries(compose.services).filter(([, s]) => s.profiles === undefined));
export const names = Object.keys(services);
export const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

/** One-shot services: they exit, so they have no health check and are waited for by exit code. */
export const ONE_SHOT = new Set(['setup']);
export const longRunning = names.filter((n) => !ONE_SHOT.has(n));
/** Services built from ./Dockerfile (the app image). */
export const appServices = names.filter((n) => isAppImage(services[n]!));

export function isAppImage(s: ComposeService): boolean {
  const b = s.build;
  const context = typeof b === 'string' ? b : b?.context;
  const dockerfile = typeof b === 'string' ? 'Dockerfile' : (b?.dockerfile ?? 'Dockerfile');
  return context !== undefined && path.resolve(REPO, context) === REPO && dockerfile === 'Dockerfile';
}

/** Settings scripts read (services/shared/config.ts SCRIPT_VARS): known names, not typos. */
export const SCRIPT_VARS = ['TAPSTACK_HOME', 'TAPSTACK_RUN_DIR'];
export const SECRET_ENVS = Object.values(CONFIG_SPEC).filter((s) => 'secret' in s && s.secret).map((s) => s.env);
export const KNOWN_ENVS = new Set<string>([...Object.values(CONFIG_SPEC).map((s) => s.env), ...SECRET_ENVS.map((e) => `${e}_FILE`), ...SCRIPT_VARS]);

/** The config a service's processes would build, with secret files replaced by a readable stand-in. */
export function serviceConfig(name: string): Config {
  const env = serviceEnv(services[name]!);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstack-compose-'));
  try {
    for (const secret of SECRET_ENVS) {
      if (env[`${secret}_FILE`]) {
        const stand = path.join(dir, secret);
        fs.writeFileSync(stand, 'stand-in\n');
        env[`${secret}_FILE`] = stand;
      }
    }
    return loadConfig(env);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** redis.conf as `tapstack setup` renders it for these settings (cli/setup/templates.ts). */
export function renderedRedisConf(): string {
  const config = serviceConfig('setup');
  return renderRedisConf(config, 'stand-in', redisIsLocal(config.redis.url) ? path.join(config.dataDir, 'redis') : undefined);
}

/** The port each app process serves /readyz on, as its own config computes it. */
export const READY_PORT: Record<string, (c: Config) => number> = {
  api: (c) => c.http.port,
  realtime: (c) => c.realtime.port,
  ingest: (c) => c.workers.ingestPort,
  quoter: (c) => c.workers.quoterPort,
  resolver: (c) => c.resolver.port,
  writer: (c) => c.writer.port,
  scheduler: (c) => c.scheduler.port,
};

export function volumeMounts(s: ComposeService): { source: string; target: string; readOnly: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':');
      return { source, target, readOnly: mode.split(',').includes('ro') };
    }
    return { source: v.source ?? '', target: v.target ?? '', readOnly: v.read_only === true };
  });
}

export function dockerCompose(args: string[], input?: string) {
  return spawnSync('docker-compose', args, { cwd: REPO, input, encoding: 'utf8', timeout: 60_000 });
}

// Compose 1.29 predates `depends_on.<svc>.restart` (Compose v2.17), which the issue requires and the
// Compose Specification defines. So: the full file may fail on that option and nothing else, and the

export function runArgv(s: ComposeService): string[] {
  return [...asArgv(s.entrypoint), ...asArgv(s.command)];
}

