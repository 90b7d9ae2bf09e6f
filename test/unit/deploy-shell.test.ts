/** shellcheck on every shell script: scripts/*.sh, the images tier's scripts/images/**.sh, bin/tapstack, .ci/run. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';

const REPO = process.cwd();
const shellIn = (dir: string) =>
  fs.existsSync(path.join(REPO, dir))
    ? fs
        .readdirSync(path.join(REPO, dir))
        .filter((f) => f.endsWith('.sh'))
        .sort()
        .map((f) => `${dir}/${f}`)
    : [];
const scripts = [
  ...shellIn('scripts'),
  ...shellIn('scripts/images'),
  ...shellIn('scripts/images/standins'),
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
