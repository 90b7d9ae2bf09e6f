/**
 * The restore drill's checks on a backup restored into a temp dir: SQLite `PRAGMA integrity_check`,
 * the ledger integrity check (hash chain, balances) and its head against the manifest, the schema
 * version; for Redis `redis-check-rdb`, then the RDB loaded into a throwaway redis-server on a free
 * loopback port and its key counts compared with the manifest. Used by verify (drill) and restore.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { openDb } from '../../services/shared/db/database.js';
import { schemaVersion } from '../../services/shared/db/migrate.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { DB_NAME, RDB_NAME } from '../snapshot/files.js';
import type { TapstackManifest } from '../snapshot/manifest.js';
import { checkRdb } from '../snapshot/redis.js';
import { describeError } from './errors.js';

export interface DrillResult {
  ok: boolean;
  problems: string[];
  checks: {
    sqliteIntegrity?: string;
    ledger?: { ok: boolean; rows: number; headSeq: number; headHash: string; problemCount: number };
    schemaVersion?: number;
    redis?: { checkRdb: boolean; keys: number; expires: number; loadedKeys?: number; loadedExpires?: number } | 'not in backup';
  };
}

/** Check the restored files in `dir` against `manifest`. Never throws: problems are listed. */
export async function drillChecks(dir: string, manifest: TapstackManifest): Promise<DrillResult> {
  const problems: string[] = [];
  const checks: DrillResult['checks'] = {};
  const dbFile = path.join(dir, DB_NAME);
  if (!fs.existsSync(dbFile)) problems.push(`${DB_NAME}: not restored`);
  else checkDatabase(dbFile, manifest, problems, checks);

  const rdb = path.join(dir, ...RDB_NAME.split('/'));
  if (!manifest.files.some((f) => f.name === RDB_NAME)) checks.redis = 'not in backup';
  else if (!fs.existsSync(rdb)) problems.push(`${RDB_NAME}: not restored`);
  else await checkRedis(rdb, manifest, problems, checks);
  return { ok: problems.length === 0, problems, checks };
}

function checkDatabase(file: string, manifest: TapstackManifest, problems: string[], checks: DrillResult['checks']): void {
  let db;
  try {
    db = openDb(file, { readonly: true });
  } catch (err) {
    problems.push(`${DB_NAME}: cannot be opened: ${describeError(err)}`);
    return;
  }
  try {
    try {
      const rows = db.raw.prepare('PRAGMA integrity_check(5)').all() as { integrity_check: string }[];
      const result = rows.map((r) => r.integrity_check).join('\n').split('\n').slice(0, 6).join('; ');
      checks.sqliteIntegrity = result;
      if (result !== 'ok') problems.push(`${DB_NAME}: PRAGMA integrity_check: ${result}`);
    } catch (err) {
      checks.sqliteIntegrity = describeError(err);
      problems.push(`${DB_NAME}: PRAGMA integrity_check failed: ${describeError(err)}`);
    }
    try {
      checks.schemaVersion = schemaVersion(db);
      if (checks.schemaVersion !== manifest.schemaVersion) problems.push(`${DB_NAME}: schema version ${checks.schemaVersion}, the manifest says ${manifest.schemaVersion}`);
      const report = checkIntegrity(db, { maxListed: 5 });
      checks.ledger = { ok: report.ok, rows: report.rows, headSeq: report.head.seq, headHash: report.head.hash, problemCount: report.problemCount };
      if (!report.ok) problems.push(`${DB_NAME}: ledger integrity check failed (${report.problemCount} problem(s)): ${report.problems.map((p) => p.message).join('; ')}`);
      if (report.head.seq !== manifest.ledger.headSeq || report.head.hash !== manifest.ledger.headHash || report.rows !== manifest.ledger.rows) {
        problems.push(`${DB_NAME}: ledger head #${report.head.seq} ${report.head.hash.slice(0, 12)}… (${report.rows} rows) differs from the manifest's #${manifest.ledger.headSeq} ${manifest.ledger.headHash.slice(0, 12)}… (${manifest.ledger.rows} rows)`);
      }
    } catch (err) {
      problems.push(`${DB_NAME}: ledger check failed: ${describeError(err)}`);
    }
  } finally {
    db.close();
  }
}

async function checkRedis(rdb: string, manifest: TapstackManifest, problems: string[], checks: DrillResult['checks']): Promise<void> {
  let check;
  try {
    check = await checkRdb(rdb);
  } catch (err) {
    problems.push(`${RDB_NAME}: ${describeError(err)}`);
    return;
  }
  const result: Exclude<NonNullable<DrillResult['checks']['redis']>, string> = { checkRdb: check.ok, keys: check.keys, expires: check.expires };
  checks.redis = result;
  if (!check.ok) {
    problems.push(`${RDB_NAME}: redis-check-rdb failed: ${check.output.trim().split('\n').slice(-2).join(' | ')}`);
    return;
  }
  if (manifest.redis && (check.keys !== manifest.redis.keys || check.expires !== manifest.redis.expires)) {
    problems.push(`${RDB_NAME}: ${check.keys} keys (${check.expires} with a TTL), the manifest says ${manifest.redis.keys} (${manifest.redis.expires})`);
  }
  try {
    const loaded = await loadIntoThrowawayRedis(rdb);
    result.loadedKeys = loaded.keys;
    result.loadedExpires = loaded.expires;
    // Keys with a TTL may have expired since the backup; every key without one must be there.
    const persistent = check.keys - check.expires;
    if (loaded.keys - loaded.expires !== persistent || loaded.expires > check.expires) {
      problems.push(`${RDB_NAME}: a throwaway redis-server loaded ${loaded.keys} keys (${loaded.expires} with a TTL), expected ${persistent} without a TTL plus up to ${check.expires} with one`);
    }
  } catch (err) {
    problems.push(`${RDB_NAME}: loading it into a throwaway redis-server failed: ${describeError(err)}`);
  }
}

/** Start redis-server on a copy of the RDB (loopback, free port, no persistence), count keys, stop it. */
export async function loadIntoThrowawayRedis(rdb: string, timeoutMs = 30_000): Promise<{ keys: number; expires: number }> {
  const dir = fs.mkdtempSync(path.join(path.dirname(rdb), '.drill-redis-'));
  fs.copyFileSync(rdb, path.join(dir, 'dump.rdb'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--appendonly', 'no', '--save', '', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) throw new Error((spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? 'redis-server is not installed' : spawnError.message);
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output.trim().split('\n').slice(-2).join(' | ')}`);
      const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
      r.on('error', () => undefined);
      try {
        await r.connect();
        const persistence = await r.info('persistence');
        if (/^loading:0/m.test(persistence)) {
          const keyspace = await r.info('keyspace');
          let keys = 0;
          let expires = 0;
          for (const m of keyspace.matchAll(/^db\d+:keys=(\d+),expires=(\d+)/gm)) {
            keys += Number(m[1]);
            expires += Number(m[2]);
          }
          return { keys, expires };
        }
      } catch {
        /* not up yet */
      } finally {
        r.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not load the RDB within ${timeoutMs / 1000} s`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    if (!spawnError && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
