// Run the ava suite on the built output and end with one plain summary line for CI:
// "N passed, N failed" (ava's own summary is not a format CI reads).
// The whole suite (no arguments) ends with the images tier (test/images, ava.images.config.js) as
// its own ava run, so that its image builds do not starve the other tests. TAPSTACK_SKIP_IMAGES=1
// skips it locally; with CI=true it always runs.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
let pass = 0;
let fail = 0;
let skip = 0;

function ava(avaArgs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...avaArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (/^ok \d+/.test(line)) (/# SKIP/.test(line) ? skip++ : pass++);
        else if (/^not ok \d+/.test(line)) fail++;
      }
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const imagesOnly = args.length > 0 && args.every((a) => a.includes('test/images/'));
let code = await ava(imagesOnly ? ['--config', 'ava.images.config.js', ...args] : args);
if (args.length === 0) {
  if (process.env.TAPSTACK_SKIP_IMAGES === '1' && process.env.CI !== 'true') {
    process.stdout.write('\n# images tier skipped (TAPSTACK_SKIP_IMAGES=1)\n');
  } else {
    code = (await ava(['--config', 'ava.images.config.js'])) || code;
  }
}
const summary = `${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}`;
process.stdout.write(`\n${summary}\n`);
process.exit(code === 0 && fail === 0 && pass > 0 ? 0 : code || 1);
