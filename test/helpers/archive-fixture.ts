/**
 * Synthetic weeks for the archival tests and bench: accounts credited at the start of an ISO
 * week, then `bets` bets spread evenly over it (injected time), each staked through the ledger,
 * settled won or lost, winners paid, exactly as the writer writes them (same repos, same rows).
 */
import fs from 'node:fs';
import path from 'node:path';
import { openDb, type Db } from '../../services/shared/db/database.js';
import { migrate } from '../../services/shared/db/migrate.js';
import { isoWeekEnd, isoWeekStart } from '../../services/shared/repos/archive.repo.js';
import { insertBet, settleBet } from '../../services/shared/repos/bets.repo.js';
import { postMovement } from '../../services/shared/repos/ledger.repo.js';
import { ensureUser } from '../../services/shared/repos/users.repo.js';
import { generateKeyPair, formatIdentityFile } from '../../backup/crypto/index.js';
import { tempDir, testEnv } from './env.js';
import type { TestS3 } from './backup-servers.js';

export const WEEK = 202640; // 2026-09-28 .. 2026-10-05 UTC
export const HOUR = 3_600_000;

export function accounts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`);
}

/**
 * Write one week of bets. `open` of them (the last ones) stay unsettled. Returns the ids.
 * The first credits happen 1 ms into the week (so the week holds its whole ledger segment).
 */
export function seedWeek(db: Db, o: { week: number; bets: number; accounts?: number; open?: number; prefix?: string }): string[] {
  const addrs = accounts(o.accounts ?? 50);
  const start = isoWeekStart(o.week);
  const span = isoWeekEnd(o.week) - start - 2 * HOUR;
  const ids: string[] = [];
  const prefix = o.prefix ?? `w${o.week}`;
  db.write(() => {
    for (const a of addrs) {
      ensureUser(db, a, start + 1);
      postMovement(db, { address: a, kind: 'credit', amount: 10_000_000, ref: `${prefix}-seed-${a}` }, start + 1);
    }
    for (let i = 0; i < o.bets; i++) {
      const t = start + HOUR + Math.floor((i * span) / o.bets);
      const id = `${prefix}-b${i}`;
      const address = addrs[i % addrs.length] as string;
      const stake = 100 + (i % 900);
      postMovement(db, { address, kind: 'bet-stake', amount: -stake, ref: `bet:${id}:stake`, meta: { bet: id } }, t);
      insertBet(db, {
        id, address, quoteId: `q${i}`, lowCents: 10_000_000, highCents: 10_001_000, startMs: t + 5_000, endMs: t + 10_000,
        stake, multiplierCents: 250, state: 'open', payout: 0, reason: null, placedAt: t, committedAt: t, queueId: `${t}-0`,
      });
      ids.push(id);
      if (i >= o.bets - (o.open ?? 0)) continue;
      const won = i % 3 === 0;
      const payout = won ? Math.floor((stake * 250) / 100) : 0;
      settleBet(db, id, { state: won ? 'won' : 'lost', payout, reason: won ? 'touched' : 'not-touched', at: t + 11_000, by: `${t + 11_000}-0` });
      if (won) postMovement(db, { address, kind: 'bet-payout', amount: payout, ref: `bet:${id}:payout`, meta: { bet: id } }, t + 11_000);
    }
  });
  return ids;
}

export interface ArchiveRig {
  root: string;
  dataDir: string;
  dbFile: string;
  archiveDir: string;
  keyFile: string;
  /** This rig's prefix in the shared s3rver bucket (tests in one file run concurrently on one bucket). */
  prefix: string;
  env: Record<string, string>;
  open(): Db;
}

/** A data dir whose database is created with incremental auto-vacuum (as new installs are), a key
 * pair, and a backup config whose target `archive` is the s3rver bucket (STANDARD_IA). */
export function archiveRig(s3: TestS3, extra: Record<string, string> = {}): ArchiveRig {
  const root = tempDir('tapstack-archive-');
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const dbFile = path.join(dataDir, 'tapstack.db');
  const db = openDb(dbFile, { synchronous: 'NORMAL' });
  migrate(db);
  db.close();
  const pair = generateKeyPair();
  const keyFile = path.join(root, 'backup.key');
  fs.writeFileSync(keyFile, formatIdentityFile(pair.identity), { mode: 0o600 });
  const configFile = path.join(root, 'backup.json');
  const prefix = `a${path.basename(root).slice(-6)}`;
  fs.writeFileSync(configFile, JSON.stringify({ targets: [{ ...s3.spec('archive', { prefix }), storageClass: 'STANDARD_IA' }] }, null, 2));
  const env = testEnv({
    dataDir,
    extra: {
      TAPSTACK_REDIS_URL: 'redis://127.0.0.1:1/0',
      TAPSTACK_BACKUP_RECIPIENTS: pair.recipient,
      TAPSTACK_BACKUP_CONFIG_FILE: configFile,
      TAPSTACK_BACKUP_IDENTITY_FILE: keyFile,
      TAPSTACK_ARCHIVE_TARGET: 'archive',
      TAPSTACK_ARCHIVE_DELETE_BATCH: '1000',
      ...extra,
    },
  });
  return { root, dataDir, dbFile, archiveDir: path.join(dataDir, 'archive'), keyFile, prefix, env, open: () => openDb(dbFile, { synchronous: 'NORMAL' }) };
}

/**
 * The file in which s3rver keeps this rig's object `key` (for corrupting or removing it behind the
 * target's back). Only under the rig's own prefix: the tests of a file run at once on one bucket,
 * under the same keys.
 */
export function s3rverObjectFile(s3: TestS3, rig: ArchiveRig, key: string): string {
  const dir = path.join(s3.dataDir, s3.bucket, rig.prefix);
  const file = path.join(dir, `${key}._S3rver_object`);
  if (!fs.existsSync(file)) {
    const held = fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).join(', ') : 'nothing';
    throw new Error(`s3rver holds no ${rig.prefix}/${key} (under the prefix: ${held})`);
  }
  return file;
}
