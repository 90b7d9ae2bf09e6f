/** shellcheck on every shell script the appliance runs: scripts/*.sh, bin/tapstack, .ci/run. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';

const REPO = process.cwd();
const scripts = [
  ...fs
    .readdirSync(path.join(REPO, 'scripts'))
    .filter((f) => f.endsWith('.sh'))
    .sort()
    .map((f) => `scripts/${f}`),
  'bin/tapstack',
  '.ci/run',
];

test('the shell scripts are found', (t) => {
  t.true(scripts.length >= 3);
  for (const f of scripts) t.true(fs.existsSync(path.join(REPO, f)), f);
});

for (const file of scripts) {
  test(`shellcheck passes on ${file}`, (t) => {
    const r = spawnSync('shellcheck', ['--format=gcc', file], { cwd: REPO, encoding: 'utf8' });
    if (r.error) return t.fail(`shellcheck is not installed (scripts/setup.sh --test installs it): ${r.error.message}`);
    t.is(r.status, 0, r.stdout + r.stderr);
  });
}
