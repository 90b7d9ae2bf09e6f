import test from 'ava';
import { isShipping, nextPhase, type Phase } from '../../backup/wal/shipper-phase.js';

test('the WAL shipper state machine allows the documented moves and refuses the rest', (t) => {
  const ok: [Phase, Phase][] = [
    ['stopped', 'running'],
    ['running', 'need-generation'],
    ['need-generation', 'base-pending'],
    ['base-pending', 'running'],
    ['running', 'base-pending'],
    ['base-pending', 'need-generation'],
    ['need-generation', 'need-generation'],
    ['running', 'stopped'],
    ['base-pending', 'stopped'],
    ['need-generation', 'stopped'],
  ];
  for (const [from, to] of ok) t.is(nextPhase(from, to), to, `${from} → ${to}`);
  const refused: [Phase, Phase][] = [
    ['stopped', 'base-pending'],
    ['stopped', 'need-generation'],
    ['need-generation', 'running'],
    ['running', 'running'],
  ];
  for (const [from, to] of refused) t.throws(() => nextPhase(from, to), { message: /cannot go from/ }, `${from} → ${to}`);
  t.deepEqual((['stopped', 'need-generation', 'base-pending', 'running'] as Phase[]).filter(isShipping), ['base-pending', 'running']);
});
