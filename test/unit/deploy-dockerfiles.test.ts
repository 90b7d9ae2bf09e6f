/**
 * Static checks of Dockerfile (the app image) and Dockerfile.aio (no Docker engine needed,
 * ../shared/TOOLING.md): dockerfile-utils lint, then the project's policy through dockerfile-ast:
 * pinned bases, multi-stage, non-root, health check, COPY sources, entrypoint, settings.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { DockerfileParser, type Dockerfile, type Instruction } from 'dockerfile-ast';
import { CONFIG_SPEC, loadConfig } from '../../services/shared/config.js';
import { REPO, dockerignorePatterns, dockerignored, imagePathToRepo, sourceOf } from '../helpers/deploy-files.js';

const FILES = ['Dockerfile', 'Dockerfile.aio'] as const;
type File = (typeof FILES)[number];
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
const KNOWN_ENVS = new Set<string>([...Object.values(CONFIG_SPEC).map((s) => s.env), 'TAPSTACK_HOME', 'TAPSTACK_RUN_DIR']);
/** Paths the build stage produces rather than copies from the context. */
const BUILT = new Set(['node_modules', 'dist', 'webroot']);

/** The Node version both images are built on. */
const NODE_BASE = '20.20.2';

/** `major.minor.patch` → comparable number. */
const versionNumber = (v: string) => v.split('.').map(Number).reduce((a, n) => a * 1000 + n, 0);

test('the pinned Node base satisfies the engines of every locked dependency that asks for Node 20', (t) => {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } }> };
  const needs: string[] = [];
  for (const [name, p] of Object.entries(lock.packages)) {
    const range = p.engines?.node;
    if (!range) continue;
    // Each `||` alternative; the one for major 20 (or an open `>=` below 21) must admit the base.
    const alternatives = range.split('||').map((s) => s.trim());
    const ok = alternatives.some((alt) => {
      const lower = /^(?:>=\s*|\^|~)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(alt.replace(/^>=\s*/, '>='));
      if (!lower) return true;
      const [major, minor = '0', patch = '0'] = [lower[1]!, lower[2], lower[3]];
      if (alt.startsWith('^') || alt.startsWith('~')) return Number(major) === 20 && versionNumber(NODE_BASE) >= versionNumber(`${major}.${minor}.${patch}`);
      if (alt.startsWith('>=')) return versionNumber(NODE_BASE) >= versionNumber(`${major}.${minor}.${patch}`);
      return true; // `*`, `<x` and other forms: not a lower bound
    });
    if (!ok) needs.push(`${name}: ${range}`);
  }
  t.deepEqual(needs, [], `node ${NODE_BASE} is too old for these`);
});

function read(file: File): string {
  return fs.readFileSync(path.join(REPO, file), 'utf8');
}

function parse(file: File): Dockerfile {
  return DockerfileParser.parse(read(file));
}

/** The instructions of the last stage (the image that ships). */
function finalStage(df: Dockerfile): Instruction[] {
  const froms = df.getFROMs();
  const start = froms[froms.length - 1]!.getRange().start.line;
  return df.getInstructions().filter((i) => i.getRange().start.line >= start);
}

function args(i: Instruction): string[] {
  return i.getArguments().map((a) => a.getValue());
}

/** `["a", "b"]` exec-form arguments of CMD, ENTRYPOINT or HEALTHCHECK ... CMD. */
function execForm(i: Instruction): string[] {
  const text = args(i).join(' ');
  const json = text.replace(/^CMD\s+/, '');
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${i.getKeyword()} is not in exec form: ${text}`);
  return parsed.map(String);
}

function envOf(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((x) => x.getKeyword() === 'ENV')) {
    for (const p of (i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties()) env[p.getName()] = p.getValue() ?? '';
  }
  return env;
}

/** The instructions of the build stage (from its FROM to the next FROM), comments left out. */
function buildStageText(file: File): string {
  const lines = read(file).split('\n');
  const froms = parse(file).getFROMs();
  return lines
    .slice(froms[0]!.getRange().start.line, froms[1]!.getRange().start.line)
    .filter((l) => !/^\s*#/.test(l) && l.trim() !== '')
    .join('\n');
}

/** The pending-aware existence check of a file the image runs (one test per file). */
function fileTest(title: string, repoPath: string, opts: { executable?: boolean } = {}) {
  test(title, (t) => {
    const full = path.join(REPO, repoPath);
    if (!fs.existsSync(full)) {
      const src = repoPath.startsWith('dist/') ? sourceOf(repoPath) : repoPath;
      const pending = !fs.existsSync(path.join(REPO, src));
      return t.fail(
        pending
          ? `PENDING: ${src} is not written yet (another change delivers it); the image runs ${repoPath}`
          : `${repoPath} is missing from the build output: run \`npx tsc -p tsconfig.json\` (source ${src} exists)`,
      );
    }
    if (opts.executable) t.true((fs.statSync(full).mode & 0o111) !== 0, `${repoPath} is executable`);
    else t.pass();
  });
}

for (const file of FILES) {
  test(`${file}: dockerfile-utils lint reports no problem`, (t) => {
    const cli = path.join(REPO, 'node_modules', 'dockerfile-utils', 'bin', 'dockerfile-utils');
    const r = spawnSync(process.execPath, [cli, 'lint', file], { cwd: REPO, encoding: 'utf8' });
    t.is(r.status, 0, r.stdout + r.stderr);
    t.is(r.stdout.trim(), '', 'no warnings either');
  });

  test(`${file}: every base image is pinned to an exact tag; multi-stage`, (t) => {
    const df = parse(file);
    const stages = new Set<string>();
    const froms = df.getFROMs();
    t.true(froms.length >= 2, 'a build stage and a runtime stage');
    for (const from of froms) {
      const name = from.getImageName() ?? '';
      if (!stages.has(name)) {
        t.is(from.getImage(), `node:${NODE_BASE}-bookworm-slim`, 'the pinned Node 20 base (exact tag)');
        t.not(from.getImageTag(), 'latest');
      }
      const stage = from.getBuildStage();
      if (stage) stages.add(stage);
    }
    t.deepEqual([...stages], ['build', 'runtime']);
  });

  test(`${file}: builds with npm ci and npm run build, ships production dependencies only`, (t) => {
    const build = buildStageText(file);
    t.regex(build, /RUN npm ci\b/);
    // npm can exit 0 after a failed fetch: the tree and the native module are checked after it.
    t.regex(build, /npm ci[^\n]*\n[^\n]*npm ls\b/, 'npm ls right after npm ci');
    t.regex(build, /test -f node_modules\/better-sqlite3\/build\/Release\/better_sqlite3\.node/);
    t.regex(build, /web\/dist[^\n]*\/src\/webroot/, 'ships web/dist when the web app was built');
    t.regex(build, /npm run build/);
    t.regex(build, /npm prune --omit=dev/);
    t.regex(build, /python3 make g\+\+/, 'native toolchain for better-sqlite3');
    t.regex(build, /require\('better-sqlite3'\)/, 'the native module is loaded once at build time');
    const runtime = finalStage(parse(file)).map((i) => args(i).join(' ')).join('\n');
    t.notRegex(runtime, /\bg\+\+|\bmake\b|python3 make/, 'no compiler in the runtime stage');
  });

  test(`${file}: runs as the non-root tapstack user (uid/gid 10001)`, (t) => {
    const stage = finalStage(parse(file));
    const users = stage.filter((i) => i.getKeyword() === 'USER').map((i) => args(i).join(' '));
    t.true(users.length > 0, 'USER is set');
    t.is(users[users.length - 1], 'tapstack');
    t.notRegex(users[users.length - 1] ?? '', /^(root|0)(:|$)/);
    const runs = stage.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' ')).join('\n');
    t.regex(runs, /groupadd --system --gid 10001 tapstack/);
    t.regex(runs, /useradd --system --uid 10001 --gid tapstack\b/);
    const lastUser = stage.filter((i) => i.getKeyword() === 'USER').pop()!;
    const afterUser = stage.filter((i) => i.getRange().start.line > lastUser.getRange().start.line);
    t.false(afterUser.some((i) => i.getKeyword() === 'RUN'), 'root-only set-up (apt, useradd, chown) all happens before USER');
  });

  test(`${file}: WORKDIR /app, the data volume, TAPSTACK_* settings the config accepts`, (t) => {
    const stage = finalStage(parse(file));
    t.deepEqual(stage.filter((i) => i.getKeyword() === 'WORKDIR').map(args).pop(), ['/app']);
    t.deepEqual(stage.filter((i) => i.getKeyword() === 'VOLUME').map(args), [['/data']]);
    const env = envOf(stage);
    t.is(env.TAPSTACK_HOME, '/app');
    t.is(env.TAPSTACK_DATA_DIR, '/data');
    t.is(env.TAPSTACK_RUN_DIR, '/run/tapstack');
    t.is(env.TAPSTACK_DATA_REQUIRE_MOUNT, 'true');
    for (const name of Object.keys(env).filter((n) => n.startsWith('TAPSTACK_'))) t.true(KNOWN_ENVS.has(name), `${name} is a Tapstack setting`);
    t.notThrows(() => loadConfig(Object.fromEntries(Object.entries(env).filter(([n]) => n.startsWith('TAPSTACK_')))));
    t.false(Object.keys(env).some((n) => /PASSWORD|SECRET|TOKEN/.test(n)), 'no secret in the image');
    const runs = stage.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' ')).join('\n');
    t.regex(runs, /ln -s \/app\/bin\/tapstack \/usr\/local\/bin\/tapstack/, '`tapstack` on the PATH');
  });

  test(`${file}: COPY sources exist in the repository and in the build context`, (t) => {
    const df = parse(file);
    const patterns = dockerignorePatterns();
    for (const copy of df.getCOPYs()) {
      const from = copy.getFromFlag()?.getValue();
      const parts = args(copy);
      const sources = parts.slice(0, -1);
      for (const src of sources) {
        let rel: string;
        if (from === undefined) rel = src;
        else {
          t.is(from, 'build', `COPY --from=${from} copies from the build stage`);
          t.true(src.startsWith('/src/'), `${src} is in the build stage's /src`);
          rel = src.slice('/src/'.length);
          if (BUILT.has(rel)) continue; // produced by npm ci / npm run build in that stage
        }
        if (rel === '.') continue;
        t.true(fs.existsSync(path.join(REPO, rel)), `COPY ${src}: ${rel} is not in the repository${rel === 'nginx' || rel === 'web' ? ' (PENDING: another change delivers it)' : ''}`);
        t.false(dockerignored(rel, patterns), `COPY ${src}: .dockerignore keeps ${rel} out of the build context`);
      }
    }
  });

  test(`${file}: ENTRYPOINT is the shared entrypoint in exec form`, (t) => {
    const entry = parse(file).getENTRYPOINTs();
    t.is(entry.length, 1);
    t.deepEqual(execForm(entry[0]!), ['/app/scripts/entrypoint.sh']);
  });

  test(`${file}: one HEALTHCHECK in exec form with timings`, (t) => {
    const stage = finalStage(parse(file));
    const checks = stage.filter((i) => i.getKeyword() === 'HEALTHCHECK');
    t.is(checks.length, 1);
    const text = read(file);
    for (const flag of ['interval', 'timeout', 'start-period', 'retries']) t.regex(text, new RegExp(`HEALTHCHECK[^\\n]*--${flag}=`), `--${flag}`);
    t.is(execForm(checks[0]!)[0], 'node');
  });
}

test('both images build the app the same way (the build stages are identical)', (t) => {
  t.is(buildStageText('Dockerfile.aio'), buildStageText('Dockerfile'));
});

test('the app image runs the API by default and checks its /readyz on the configured port', (t) => {
  const df = parse('Dockerfile');
  const stage = finalStage(df);
  const port = loadConfig(envOf(stage)).http.port;
  t.deepEqual(execForm(stage.find((i) => i.getKeyword() === 'HEALTHCHECK')!), ['node', '/app/dist/healthchecks/http.js', `http://127.0.0.1:${port}/readyz`]);
  t.deepEqual(execForm(df.getCMDs().pop()!), ['node', '/app/dist/services/api/main.js']);
  t.regex(fs.readFileSync(path.join(REPO, 'docker-compose.yaml'), 'utf8'), new RegExp(`image: tapstack/app:${pkg.version.replace(/\./g, '\\.')}`), 'compose uses this image at the package version');
});

test('the AIO image: nginx, redis, supervisor, openssl from Debian; nginx on 8000/8443; supervisord by default', (t) => {
  const df = parse('Dockerfile.aio');
  const stage = finalStage(df);
  const runs = stage.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' ')).join('\n');
  for (const p of ['nginx', 'redis-server', 'supervisor', 'openssl']) t.regex(runs, new RegExp(`apt-get install[^\\n]*\\b${p}\\b`), p);
  const cfg = loadConfig(envOf(stage));
  t.is(cfg.appliance.nginxHttpPort, 8000);
  t.is(cfg.appliance.nginxHttpsPort, 8443);
  t.deepEqual(stage.filter((i) => i.getKeyword() === 'EXPOSE').flatMap(args), [String(cfg.appliance.nginxHttpPort), String(cfg.appliance.nginxHttpsPort)]);
  t.is(cfg.redis.url, 'redis://127.0.0.1:6379/0', 'redis stays on loopback');
  t.is(cfg.http.host, '127.0.0.1', 'the API stays on loopback behind nginx');
  t.deepEqual(execForm(stage.find((i) => i.getKeyword() === 'HEALTHCHECK')!), ['node', '/app/dist/healthchecks/aio.js']);
  t.deepEqual(execForm(df.getCMDs().pop()!), [], 'no arguments: the entrypoint starts supervisord');
  t.true(df.getCOPYs().some((c) => args(c)[0] === '/src/supervisord.conf'), 'ships supervisord.conf');
});

// Files the images run: one test each, so a file another change has not delivered yet fails alone.
const ran = new Map<string, Set<string>>();
for (const file of FILES) {
  const df = parse(file);
  const stage = finalStage(df);
  const named = [...df.getENTRYPOINTs().flatMap(execForm), ...stage.filter((i) => i.getKeyword() === 'HEALTHCHECK').flatMap(execForm), ...df.getCMDs().flatMap(execForm)];
  for (const p of named) {
    const repoPath = imagePathToRepo(p);
    if (repoPath) ran.set(repoPath, (ran.get(repoPath) ?? new Set()).add(file));
  }
}
for (const [repoPath, files] of [...ran].sort(([a], [b]) => a.localeCompare(b))) {
  fileTest(`/app/${repoPath}, run by ${[...files].join(' and ')}, exists${repoPath.startsWith('scripts/') ? ' and is executable' : ''}`, repoPath, { executable: repoPath.startsWith('scripts/') });
}

test('.dockerignore keeps local state, secrets and build output out of the context', (t) => {
  const patterns = dockerignorePatterns();
  for (const p of ['node_modules', 'dist', 'data', 'data/secrets/redis-password', '.git', '.env', 'test', 'bench', 'x/tls/key.pem']) {
    t.true(dockerignored(p, patterns), `${p} is ignored`);
  }
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'services/api/main.ts', 'cli/main.ts', 'healthchecks', 'bin/tapstack', 'scripts/entrypoint.sh', 'nginx/nginx.conf.template', 'web', 'supervisord.conf']) {
    t.false(dockerignored(p, patterns), `${p} is in the context`);
  }
});
