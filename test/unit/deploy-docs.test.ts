/** DEPLOY.md stays true: its env table is the schema's, its sizing table is the compose file's. */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { SETUP_EXIT } from '../../cli/setup/exit-codes.js';
import { CONFIG_SPEC } from '../../services/shared/config.js';
import { envTableMarkdown } from '../../services/shared/config-doc.js';
import { REPO, cpus, loadCompose, memoryMiB } from '../helpers/deploy-files.js';

const doc = fs.readFileSync(path.join(REPO, 'DEPLOY.md'), 'utf8');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

function between(name: string): string | undefined {
  return new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(doc)?.[1];
}

test('the DEPLOY.md env table is the one generated from the config schema', (t) => {
  const table = between('env-table');
  t.truthy(table, 'DEPLOY.md has the env-table markers');
  t.is(table, envTableMarkdown(), 'regenerate with: node dist/cli/main.js config env-table');
  for (const spec of Object.values(CONFIG_SPEC)) t.true(doc.includes(`\`${spec.env}\``), spec.env);
});

test('every TAPSTACK_* name DEPLOY.md mentions is a real setting', (t) => {
  // Besides the settings: the script variables, the compose file's host ports (substituted by
  // Compose, never seen by a process) and the test runner's switch for the images tier.
  const known = new Set<string>(['TAPSTACK_HOME', 'TAPSTACK_RUN_DIR', 'TAPSTACK_PUBLISH_HTTP', 'TAPSTACK_PUBLISH_HTTPS', 'TAPSTACK_PUBLISH_GRAFANA', 'TAPSTACK_GRAFANA_ROOT_URL', 'TAPSTACK_SKIP_IMAGES']);
  for (const s of Object.values(CONFIG_SPEC)) {
    known.add(s.env);
    if ('secret' in s && s.secret) known.add(`${s.env}_FILE`);
  }
  const named = new Set(doc.match(/TAPSTACK_[A-Z0-9_]*[A-Z0-9]/g) ?? []);
  for (const name of named) t.true(known.has(name), `${name} is not a Tapstack setting`);
});

test('DEPLOY.md has the sections the issue asks for', (t) => {
  const headings = [...doc.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  for (const h of ['Compose', 'All-in-one image (AIO)', 'Native run', 'TLS', 'Sizing and resource limits', 'Upgrades', 'Troubleshooting', 'Performance tuning', 'Images, verified', 'Configuration']) {
    t.true(headings.includes(h), `## ${h}`);
  }
  for (const h of ['First start', 'What happens on `up`', 'Where things are', 'Admin CLI', 'The data volume check refuses to start', 'Reading logs']) {
    t.regex(doc, new RegExp(`^### ${h.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&')}$`, 'm'), `### ${h}`);
  }
});

test('DEPLOY.md links only to headings that exist', (t) => {
  const slug = (h: string) => h.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
  const anchors = new Set([...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
  for (const [, anchor] of doc.matchAll(/\]\(#([^)]+)\)/g)) t.true(anchors.has(anchor!), `#${anchor}`);
});

test('the guides give the commands operators need', (t) => {
  for (const text of [
    'docker compose up -d',
    'docker compose exec api tapstack',
    `docker run -d --name tapstack -p 80:8000 -p 443:8443 -v tapstack-data:/data --restart unless-stopped tapstack/aio:${pkg.version}`,
    'docker exec tapstack tapstack',
    'scripts/start.sh',
    'TAPSTACK_TLS_CERT_FILE',
    'TAPSTACK_TLS_KEY_FILE',
    'docker compose kill -s HUP nginx',
    'supervisorctl -c /app/supervisord.conf signal HUP nginx',
    '<data>/secrets/redis-password',
    'TAPSTACK_REDIS_PASSWORD_FILE',
    'TAPSTACK_WRITER_BATCH_MAX',
    'TAPSTACK_SQLITE_SYNCHRONOUS',
    'appendfsync',
    'breaker-open',
    'balance-loading',
    'TAPSTACK_ALLOW_UNMARKED_DATA=true',
  ]) {
    t.true(doc.includes(text), text);
  }
});

test("the refusal table covers every exit code of `tapstack setup`", (t) => {
  const section = doc.slice(doc.indexOf('### The data volume check refuses to start'));
  for (const [name, code] of Object.entries(SETUP_EXIT)) t.regex(section, new RegExp(`^\\| ${code} \\|`, 'm'), `${name} (${code})`);
});

test('the sizing table is the compose file (limits, reservations, stop grace period)', (t) => {
  const table = between('sizing-table');
  t.truthy(table, 'DEPLOY.md has the sizing-table markers');
  const rows = new Map(
    (table ?? '')
      .split('\n')
      .slice(2)
      .map((line) => line.split('|').map((c) => c.trim()))
      .map((cells) => [cells[1]?.replace(/`/g, '') ?? '', cells.slice(2, 7)] as const),
  );
  const compose = loadCompose();
  t.deepEqual([...rows.keys()].sort(), Object.keys(compose.services).sort(), 'one row per service');
  for (const [name, s] of Object.entries(compose.services)) {
    const row = rows.get(name);
    if (!row) continue;
    const r = s.deploy?.resources;
    t.is(cpus(row[0]), cpus(r?.limits?.cpus), `${name}: CPU limit`);
    t.is(memoryMiB(row[1]), memoryMiB(r?.limits?.memory), `${name}: memory limit`);
    t.is(cpus(row[2]), cpus(r?.reservations?.cpus), `${name}: CPU reserved`);
    t.is(memoryMiB(row[3]), memoryMiB(r?.reservations?.memory), `${name}: memory reserved`);
    t.is(row[4], s.stop_grace_period, `${name}: stop grace`);
  }
});
