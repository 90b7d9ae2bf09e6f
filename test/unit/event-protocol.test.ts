import test from 'ava';
import { createEventProtocol } from '../../healthchecks/event-protocol.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const event = (name: string, payload: string) => `ver:3.0 server:supervisor serial:1 pool:health eventname:${name} len:${Buffer.byteLength(payload)}\n${payload}`;

test('events split across chunks or sharing one are handled one at a time, in order, each acknowledged', async (t) => {
  const out: string[] = [];
  const seen: string[] = [];
  let running = 0;
  const protocol = createEventProtocol({
    async handle(name, payload) {
      t.is(++running, 1, 'one event at a time');
      await sleep(5);
      seen.push(`${name}:${payload}`);
      running--;
    },
    failed: async () => t.fail(),
    write: (text) => out.push(text),
  });
  protocol.ready();
  const input = event('TICK_5', 'when:1') + event('PROCESS_STATE_STOPPING', 'processname:redis groupname:redis');
  protocol.feed(Buffer.from(input.slice(0, 30)));
  protocol.feed(Buffer.from(input.slice(30, 90)));
  protocol.feed(Buffer.from(input.slice(90)));
  while (seen.length < 2) await sleep(5);
  await sleep(5);
  t.deepEqual(seen, ['TICK_5:when:1', 'PROCESS_STATE_STOPPING:processname:redis groupname:redis']);
  t.deepEqual(out, ['READY\n', 'RESULT 2\nOK', 'READY\n', 'RESULT 2\nOK', 'READY\n']);
});

test('a failing event is reported and still acknowledged', async (t) => {
  const out: string[] = [];
  const failures: string[] = [];
  const protocol = createEventProtocol({
    handle: async () => {
      throw new Error('supervisor away');
    },
    failed: async (err, name) => void failures.push(`${name}: ${err.message}`),
    write: (text) => out.push(text),
    afterEvent: () => out.push('after'),
  });
  protocol.feed(Buffer.from(event('TICK_5', '')));
  while (out.length < 3) await sleep(5);
  t.deepEqual(failures, ['TICK_5: supervisor away']);
  t.deepEqual(out, ['RESULT 2\nOK', 'after', 'READY\n']);
});
