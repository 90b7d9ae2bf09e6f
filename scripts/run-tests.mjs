// Run the ava suite on the built output and end with one plain summary line for CI:
// "N passed, N failed" (ava's own summary is not a format CI reads).
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const ava = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
let pass = 0;
let fail = 0;
let skip = 0;
let buffer = '';
ava.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  buffer += chunk.toString();
  const lines = buffer.split('\n');
  buffer = lines.pop() ?? '';
  for (const line of lines) {
    if (/^ok \d+/.test(line)) (/# SKIP/.test(line) ? skip++ : pass++);
    else if (/^not ok \d+/.test(line)) fail++;
  }
});
ava.on('close', (code) => {
  const summary = `${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}`;
  process.stdout.write(`\n${summary}\n`);
  process.exit(code === 0 && fail === 0 && pass > 0 ? 0 : code || 1);
});
