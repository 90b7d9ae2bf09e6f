// Run the test suite on the built output and end with one plain summary line for CI:
// "N passed, N failed" (neither runner's own summary is a format CI reads). With no arguments:
// the web app's vitest units (web/test), then ava; with arguments: ava on those files only.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
let pass = 0;
let fail = 0;
let skip = 0;

/** Run one TAP-producing runner, echoing its output and counting its results. */
function runTap(cmd, cmdArgs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cmd, ...cmdArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.trimStart();
        if (/^ok \d+/.test(line)) (/# SKIP/.test(line) ? skip++ : pass++);
        else if (/^not ok \d+/.test(line)) fail++;
      }
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

let code = 0;
if (args.length === 0) {
  // tap-flat: one flat "ok N - file > suite > test" line per test, counted like ava's.
  const vitest = await runTap('node_modules/vitest/vitest.mjs', ['run', '--config', 'web/vite.config.ts', '--reporter=tap-flat']);
  if (vitest !== 0) code = vitest;
}
const ava = await runTap('node_modules/ava/entrypoints/cli.mjs', ['--tap', ...args]);
if (ava !== 0) code = ava;
const summary = `${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}`;
process.stdout.write(`\n${summary}\n`);
process.exit(code === 0 && fail === 0 && pass > 0 ? 0 : code || 1);
