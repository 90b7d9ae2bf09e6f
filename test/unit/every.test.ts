import test from 'ava';
import { createLogger } from '../../services/shared/logger.js';
import { every } from '../../services/shared/every.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ service: 'test', level: 'info', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { log, lines };
}

test('passes never overlap, and stop waits for the pass under way', async (t) => {
  let running = 0;
  let most = 0;
  let passes = 0;
  const loop = every(
    1,
    async () => {
      running++;
      most = Math.max(most, running);
      await sleep(30);
      passes++;
      running--;
    },
    { log: recordingLog().log, what: 'test pass' },
  );
  while (passes < 3) await sleep(5);
  await loop.stop();
  t.is(most, 1);
  t.is(running, 0);
  const after = passes;
  t.true(after >= 2);
  await sleep(60);
  t.is(passes, after, 'no pass starts after stop');
});

test('a failing pass is logged once, retried, and its recovery is logged', async (t) => {
  const { log, lines } = recordingLog();
  let n = 0;
  const loop = every(
    1,
    async () => {
      if (++n <= 3) throw new Error('redis away');
    },
    { log, what: 'resolving' },
  );
  // Wait for the condition (a busy machine runs passes late), never a fixed time.
  while (n <= 4) await sleep(5);
  await loop.stop();
  t.true(n > 4);
  t.deepEqual(
    lines.map((l) => l.msg),
    ['resolving failed; retrying every pass', 'resolving resumed'],
  );
});

test('settled waits for the pass under way, and the loop goes on', async (t) => {
  let passes = 0;
  let release: () => void = () => undefined;
  const loop = every(
    1,
    () =>
      new Promise<void>((resolve) => {
        release = () => {
          passes++;
          resolve();
        };
      }),
    { log: recordingLog().log, what: 'test pass', immediate: false },
  );
  t.is(passes, 0);
  while (passes === 0) {
    release();
    await sleep(5);
  }
  const settled = loop.settled();
  release();
  await settled;
  while (passes < 3) {
    release();
    await sleep(5);
  }
  release();
  await loop.stop();
  t.true(passes >= 3, 'passes go on after settled');
});

test('onError sees every failure instead of the log-once lines', async (t) => {
  const { log, lines } = recordingLog();
  const seen: string[] = [];
  let n = 0;
  const loop = every(
    1,
    async () => {
      if (++n <= 3) throw new Error(`fail ${n}`);
    },
    { log, what: 'shipping', onError: (err) => seen.push(err.message) },
  );
  while (n <= 4) await sleep(5);
  await loop.stop();
  t.deepEqual(seen, ['fail 1', 'fail 2', 'fail 3']);
  t.false(loop.failing);
  t.deepEqual(lines, []);
});

test('with timeoutMs, a pass that never settles counts as failed and the loop goes on', async (t) => {
  const { log, lines } = recordingLog();
  let n = 0;
  // The first pass never settles (a command whose reply never comes); the later ones do.
  const loop = every(1, () => (++n === 1 ? new Promise<void>(() => undefined) : Promise.resolve()), { log, what: 'quoting', timeoutMs: 20 });
  t.true(loop.failing === false);
  while (n < 3) await sleep(5);
  await loop.stop();
  t.false(loop.failing, 'the passes after it succeeded');
  t.deepEqual(
    lines.map((l) => l.msg),
    ['quoting failed; retrying every pass', 'quoting resumed'],
  );
  t.regex(String((lines[0] as { err?: string }).err), /still running after 20 ms/);
});
