import test from 'ava';
import { isoWeek } from '../../services/shared/repos/bets.repo.js';

test('isoWeek gives the ISO-8601 week, across year boundaries', (t) => {
  const cases: [string, number][] = [
    ['2026-11-22T23:59:59Z', 202647],
    ['2026-11-23T00:00:00Z', 202648],
    ['2026-01-01T12:00:00Z', 202601],
    ['2025-12-29T00:00:00Z', 202601],
    ['2021-01-03T00:00:00Z', 202053],
    ['2020-12-31T00:00:00Z', 202053],
    ['2026-12-31T00:00:00Z', 202653],
    ['2027-01-04T00:00:00Z', 202701],
    ['2024-12-30T00:00:00Z', 202501],
  ];
  for (const [iso, week] of cases) t.is(isoWeek(Date.parse(iso)), week, iso);
});
