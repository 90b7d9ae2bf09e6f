// Run the ava suite on the built output and end with one plain summary line for CI:
// "N passed, N failed" (ava's own summary is not a format CI reads).
// ava's default reporter, not --tap: ava 6's TAP reporter crashes on a timeout ("Cannot set
// properties of undefined (setting 'name')" in reporters/tap.js), which takes every worker down
// with it. The default reporter prints one line per test, which is what is counted here:
//   ✔ file › title            passed (also "✔ [expected fail]")
//   ✘ [fail]: file › title    failed (also "[unexpected pass]", and a failed hook)
//   - [skip] file › title     skipped
// and everything that fails a run without a test line: tests pending at a timeout, files that
// exited or crashed, uncaught exceptions and unhandled rejections.
// The whole suite (no arguments) ends with the images tier (test/images, ava.images.config.js) as
// its own ava run, so that its image builds do not starve the other tests. TAPSTACK_SKIP_IMAGES=1
// skips it locally; with CI=true it always runs.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
let pass = 0;
let fail = 0;
let skip = 0;
const patterns = [
  [/^\s*✔ /, () => pass++],
  [/^\s*✘ \[(?:fail|unexpected pass)\]:/, () => fail++],
  [/^\s*- \[skip\] /, () => skip++],
  [/^(\d+) tests? were pending in /, (m) => (fail += Number(m[1]))],
  [/^Failed to exit when running /, () => fail++],
  [/^\s*✘ .* exited (?:with a non-zero exit code|due to)/, () => fail++],
  [/^\s*✘ Internal error/, () => fail++],
  [/^\s*✘ No tests found in /, () => fail++],
  [/^\s*✘ (\d+) tests? remaining in /, (m) => (fail += Number(m[1]))],
  [/^\s*(\d+) uncaught exceptions?$/, (m) => (fail += Number(m[1]))],
  [/^\s*(\d+) unhandled rejections?$/, (m) => (fail += Number(m[1]))],
];

function ava(avaArgs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', ...avaArgs], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        for (const [re, count] of patterns) {
          const m = re.exec(line);
          if (m) {
            count(m);
            break;
          }
        }
      }
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const imagesOnly = args.length > 0 && args.every((a) => a.includes('test/images/'));
let code = await ava(imagesOnly ? ['--config', 'ava.images.config.js', ...args] : args);
if (args.length === 0) {
  if (process.env.TAPSTACK_SKIP_IMAGES === '1' && process.env.CI !== 'true') {
    process.stdout.write('\nimages tier skipped (TAPSTACK_SKIP_IMAGES=1)\n');
  } else {
    code = (await ava(['--config', 'ava.images.config.js'])) || code;
  }
}
const summary = `${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}`;
process.stdout.write(`\n${summary}\n`);
process.exit(code === 0 && fail === 0 && pass > 0 ? 0 : code || 1);
