import fs from 'node:fs';
import test from 'ava';
import { CONFIG_SPEC } from '../../services/shared/config.js';
import { envTableMarkdown } from '../../services/shared/config-doc.js';

test('the README env table is the one generated from the config schema', (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const m = /<!-- env-table:start -->\n([\s\S]*?)\n<!-- env-table:end -->/.exec(readme);
  t.truthy(m, 'README has the env-table markers');
  t.is(m?.[1], envTableMarkdown(), 'regenerate with: bin/tapstack config env-table');
  for (const spec of Object.values(CONFIG_SPEC)) t.true(readme.includes(`\`${spec.env}\``), spec.env);
});

test('the README quick start names the two commands that exist', (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  t.regex(readme, /^## Quick start/m);
  for (const script of ['scripts/start.sh', 'scripts/test.sh']) {
    t.true(readme.includes(script));
    t.true(fs.existsSync(script));
  }
  t.regex(fs.readFileSync('.ci/run', 'utf8'), /scripts\/test\.sh/);
});
