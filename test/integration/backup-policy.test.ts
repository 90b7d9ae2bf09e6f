/**
 * Pure logic of the backup engine (no I/O but the config file parse): retention and the backup
 * config's defaults. Kept beside the other backup tests; nothing here starts a process.
 */
import test from 'ava';
import { applyRetention } from '../../backup/engine/retention.js';
import { DEFAULT_FULL_CRON, DEFAULT_INCREMENTAL_CRON, DEFAULT_RETENTION, parseBackupSettings, parseDuration } from '../../backup/engine/settings.js';

const H = 3_600_000;
const T0 = Date.parse('2026-11-22T12:00:00Z');
const none = { keepLast: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, keepWithinMs: 0 };

test('hourly keeps the newest backup of each of the N most recent hours', (t) => {
  const items = Array.from({ length: 12 }, (_, i) => ({ id: `b${i}`, at: T0 - i * 20 * 60_000, verified: false })); // every 20 min
  const d = applyRetention(items, { ...none, hourly: 3 });
  t.deepEqual(d.keep.map((k) => k.id), ['b0', 'b1', 'b4'], '12:00, 11:40, 10:40');
  t.deepEqual(d.keep.find((k) => k.id === 'b0')?.reasons, ['hourly 2026-11-22T12', 'newest']);
  t.is(d.remove.length, 9);
});

test('daily, weekly, monthly and keepLast combine; keepWithin counts back from the newest backup', (t) => {
  const items = Array.from({ length: 60 }, (_, i) => ({ id: `d${i}`, at: T0 - i * 24 * H, verified: false }));
  const d = applyRetention(items, { ...none, keepLast: 2, daily: 3, weekly: 2, monthly: 2 });
  const kept = new Set(d.keep.map((k) => k.id));
  for (const id of ['d0', 'd1', 'd2']) t.true(kept.has(id));
  t.true(kept.has('d7') || kept.has('d6'), 'one from the previous ISO week');
  t.true(d.keep.some((k) => k.reasons.some((r) => r === 'monthly 2026-10')));
  const within = applyRetention(items.slice(10), { ...none, keepWithinMs: 3 * 24 * H });
  t.deepEqual(within.keep.map((k) => k.id), ['d10', 'd11', 'd12', 'd13'], 'relative to the newest backup, not to now');
});

test('the newest backup and the newest verified one are always kept', (t) => {
  const items = [
    { id: 'new', at: T0, verified: false },
    { id: 'mid', at: T0 - H, verified: true },
    { id: 'old', at: T0 - 2 * H, verified: true },
  ];
  const d = applyRetention(items, none);
  t.deepEqual(d.keep.map((k) => [k.id, k.reasons]), [
    ['new', ['newest']],
    ['mid', ['newest verified']],
  ]);
  t.deepEqual(d.remove, ['old']);
});

test('backup config: defaults, relative paths, durations', (t) => {
  const s = parseBackupSettings({ targets: [{ type: 'local', name: 'usb', path: 'backups' }] }, '/etc/tapstack/backup.json');
  const u = s.targets[0];
  t.is(u?.schedule, DEFAULT_FULL_CRON);
  t.is(u?.incrementalSchedule, DEFAULT_INCREMENTAL_CRON);
  t.deepEqual(u?.retention, DEFAULT_RETENTION);
  t.true(u?.enabled);
  t.deepEqual(u?.spec, { type: 'local', name: 'usb', path: '/etc/tapstack/backups' });
  t.is(parseDuration('1w2d'), 9 * 24 * H);
  t.is(parseDuration('36h'), 36 * H);
});
