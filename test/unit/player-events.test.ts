import test from 'ava';
import { decodePlayerEvents, encodePlayerEvents, PLAYER_EVENTS_PER_MESSAGE, playerEventId, type PlayerEvent } from '../../services/shared/betting/commands.js';

const ev = (i: number): PlayerEvent<Record<string, unknown>> => ({ address: `0x${String(i).padStart(40, '0')}`, event: 'bet:confirmed', eventId: playerEventId(`b${i}`, 'open'), data: { id: `b${i}` } });

test('a batch of events becomes a few messages that decode back to the same events, in order', (t) => {
  const events = Array.from({ length: PLAYER_EVENTS_PER_MESSAGE * 2 + 3 }, (_, i) => ev(i));
  const messages = encodePlayerEvents(events);
  t.is(messages.length, 3);
  t.deepEqual(messages.flatMap(decodePlayerEvents), events);
  t.deepEqual(encodePlayerEvents([]), []);
});

test('a single event (as an older writer published it) still decodes', (t) => {
  t.deepEqual(decodePlayerEvents(JSON.stringify(ev(1))), [ev(1)]);
});

test('anything that is not a list of player events is refused whole', (t) => {
  for (const bad of ['[1]', '{"address":"x"}', 'null', '[{"address":"a","event":"bet:confirmed","eventId":"e"}]', `[${JSON.stringify(ev(1))},{}]`, 'not json']) {
    t.throws(() => decodePlayerEvents(bad), undefined, bad);
  }
});
