import test from 'ava';
import { createLogger } from '../../services/shared/logger.js';
import { startLoop } from '../../services/resolver/loop.js';

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
  const loop = startLoop(
    async () => {
      running++;
      most = Math.max(most, running);
      await sleep(30);
      passes++;
      running--;
    },
    { intervalMs: 1, log: recordingLog().log, what: 'test pass' },
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
  const loop = startLoop(
    async () => {
      if (++n <= 3) throw new Error('redis away');
    },
    { intervalMs: 1, log, what: 'resolving' },
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
