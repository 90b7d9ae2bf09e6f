/**
 * One behavioural suite, run against every kind of backup target: a local directory, S3 (s3rver),
 * an rsync daemon and rsync over ssh with an rrsync-restricted key. Each test works under its own
 * key prefix because ava runs the tests of a file concurrently.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { Target, TargetSpec } from '../../backup/contracts.js';
import { createTarget } from '../../backup/targets/index.js';
import { createLogger } from '../../services/shared/logger.js';
import { startRsyncDaemon, startS3rver, startSshd, type TestRsyncDaemon, type TestS3, type TestSshd } from '../helpers/backup-servers.js';
import { tempDir } from '../helpers/env.js';

const MiB = 1024 * 1024;
const KINDS = ['local', 's3', 'rsyncd', 'ssh'] as const;
type Kind = (typeof KINDS)[number];

interface Fixture {
  target: Target;
  /** Where `key` is stored as a plain file, for targets that are directories. */
  fileOf?: (key: string) => string;
}

let s3: TestS3;
let rsyncd: TestRsyncDaemon;
let sshd: TestSshd;
let localDir: string;
const fixtures = new Map<Kind, Fixture>();
/** Everything the targets logged (debug level), parsed. */
const logged: string[] = [];
const log = createLogger({ service: 'test', level: 'debug', destination: { write: (line: string) => void logged.push(line) } });
const logLines = () => logged.map((l) => JSON.parse(l) as Record<string, unknown>);
const fixture = (kind: Kind): Fixture => {
  const f = fixtures.get(kind);
  if (!f) throw new Error(`no fixture for ${kind} (did test.before fail?)`);
  return f;
};

test.before(async () => {
  [s3, rsyncd, sshd] = await Promise.all([startS3rver(), startRsyncDaemon(), startSshd()]);
  localDir = tempDir('tapstack-local-target-');
  const make = (spec: TargetSpec) => createTarget(spec, { retryDelayMs: 50, log });
  fixtures.set('local', { target: make({ type: 'local', name: 'local', path: localDir }), fileOf: (k) => path.join(localDir, k) });
  fixtures.set('s3', { target: make(s3.spec('s3', { prefix: 'tapstack', partSize: 5 * MiB })) });
  fixtures.set('rsyncd', { target: make(rsyncd.spec('rsyncd', 'backups')), fileOf: (k) => path.join(rsyncd.moduleDir, 'backups', k) });
  // With rrsync, the URL path is relative to the restricted directory.
  fixtures.set('ssh', { target: make(sshd.spec('ssh', 'backups')), fileOf: (k) => path.join(sshd.rootDir, 'backups', k) });
});

test.after.always(async () => {
  for (const f of fixtures.values()) await f.target.close?.();
  await Promise.all([s3?.stop(), rsyncd?.stop(), sshd?.stop()]);
  if (localDir) fs.rmSync(localDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------ helpers

/** A stream of `data` in 64 KiB chunks, as a real producer would deliver it. */
function streamOf(data: Buffer | string): Readable {
  const buf = Buffer.from(data);
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += 64 * 1024) yield buf.subarray(i, i + 64 * 1024);
    })(),
  );
}

async function read(target: Target, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await target.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const keysOf = (infos: { key: string }[]) => infos.map((i) => i.key).sort();

/** A stream that yields some bytes and then fails, like a dropped source. */
function failingStream(): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(Buffer.alloc(70 * 1024, 1));
      } else {
        this.destroy(new Error('source went away'));
      }
    },
  });
}

const BIG = randomBytes(12 * MiB);

// --------------------------------------------------------------------------- the shared suite

for (const kind of KINDS) {
  test(`${kind}: put, head, get, list and delete round-trip nested keys`, async (t) => {
    const { target, fileOf } = fixture(kind);
    const objects: Record<string, string> = { 'rt/a.txt': 'alpha', 'rt/d1/d2/b.bin': 'bravo!', 'rt/d1/c': 'charlie', 'rt/dx': 'delta' };
    const before = Date.now();
    for (const [key, body] of Object.entries(objects)) await target.put(key, () => streamOf(body), { size: body.length });

    for (const [key, body] of Object.entries(objects)) {
      t.is((await read(target, key)).toString(), body, key);
      const info = await target.head(key);
      t.is(info?.key, key);
      t.is(info?.size, body.length);
      // Second-granular on S3 and rsync.
      t.true(info?.modifiedAt !== undefined && info.modifiedAt >= before - 2_000 && info.modifiedAt <= Date.now() + 2_000, `${key} mtime`);
      if (fileOf) t.is(fs.readFileSync(fileOf(key), 'utf8'), body, `${key} is a plain file under the target root`);
    }
    const all = await target.list('rt/');
    t.deepEqual(keysOf(all), Object.keys(objects).sort());
    t.deepEqual(Object.fromEntries(all.map((i) => [i.key, i.size])), Object.fromEntries(Object.entries(objects).map(([k, v]) => [k, v.length])));
    t.deepEqual(keysOf(await target.list('rt/d1/')), ['rt/d1/c', 'rt/d1/d2/b.bin']);
    t.deepEqual(keysOf(await target.list('rt/d')), ['rt/d1/c', 'rt/d1/d2/b.bin', 'rt/dx'], 'a prefix is a string prefix, not a directory');
    t.deepEqual(await target.list('rt/none/'), []);

    await target.delete(['rt/d1/d2/b.bin', 'rt/a.txt', 'rt/never-existed']);
    t.deepEqual(keysOf(await target.list('rt/')), ['rt/d1/c', 'rt/dx']);
    t.is(await target.head('rt/a.txt'), undefined);
    await t.throwsAsync(target.get('rt/d1/d2/b.bin'), { code: 'ENOENT' });
    await target.delete(['rt/d1/c', 'rt/dx']);
    t.deepEqual(await target.list('rt/'), []);

    await target.put('rt-top', () => streamOf('top'));
    t.deepEqual(keysOf(await target.list('rt-')), ['rt-top'], 'a key at the root of the target');
    await target.delete(['rt-top']);
    t.is(await target.head('rt-top'), undefined);
  });

  test(`${kind}: a put replaces the object, even with the same size`, async (t) => {
    const { target } = fixture(kind);
    await target.put('ow/k', () => streamOf('AAAA'));
    await target.put('ow/k', () => streamOf('BBBB'));
    t.is((await read(target, 'ow/k')).toString(), 'BBBB');
    t.deepEqual(keysOf(await target.list('ow/')), ['ow/k']);
  });

  test(`${kind}: a 12 MiB object round-trips intact`, async (t) => {
    const { target } = fixture(kind);
    await target.put('big/object', () => streamOf(BIG), { size: BIG.length });
    t.is((await target.head('big/object'))?.size, BIG.length);
    t.is(sha(await read(target, 'big/object')), sha(BIG));
    if (kind === 's3') {
      // 12 MiB in 5 MiB parts: a multipart upload of 3 parts (s3rver's ETag does not show it).
      const stored = logLines().find((l) => l.key === 'big/object' && l.msg === 'object stored');
      t.is(stored?.parts, 3);
    }
  });

  test(`${kind}: an empty object round-trips`, async (t) => {
    const { target } = fixture(kind);
    await target.put('empty/zero', () => Readable.from([]), { size: 0 });
    t.is((await target.head('empty/zero'))?.size, 0);
    t.is((await read(target, 'empty/zero')).length, 0);
  });

  test(`${kind}: get of a missing key rejects with ENOENT and head resolves undefined`, async (t) => {
    const { target } = fixture(kind);
    await t.throwsAsync(target.get('missing/nothing-here'), { code: 'ENOENT' });
    t.is(await target.head('missing/nothing-here'), undefined);
    await target.put('missing/dir/file', () => streamOf('x'));
    await t.throwsAsync(target.get('missing/dir'), { code: 'ENOENT' }, 'a directory is not an object');
    t.is(await target.head('missing/dir'), undefined);
  });

  test(`${kind}: a put is retried with a fresh stream after the stream fails`, async (t) => {
    const { target } = fixture(kind);
    let opens = 0;
    await target.put('retry/k', () => (++opens === 1 ? failingStream() : streamOf('second time lucky')));
    t.is(opens, 2);
    t.is((await read(target, 'retry/k')).toString(), 'second time lucky');
    t.deepEqual(keysOf(await target.list('retry/')), ['retry/k'], 'no temp file or partial object is listed');
  });

  test(`${kind}: a put that keeps failing, or yields the wrong size, stores nothing`, async (t) => {
    const { target } = fixture(kind);
    const err = await t.throwsAsync(target.put('fail/k', failingStream));
    t.regex(err?.message ?? '', new RegExp(`target "${kind}".*source went away`));
    await t.throwsAsync(target.put('fail/short', () => streamOf('12345'), { size: 10 }), { code: 'size-mismatch' });
    await t.throwsAsync(target.put('fail/long', () => streamOf('12345'), { size: 3 }), { code: 'size-mismatch' });
    t.deepEqual(await target.list('fail/'), []);
  });

  test(`${kind}: an object is invisible until its put completes`, async (t) => {
    const { target, fileOf } = fixture(kind);
    if (fileOf) {
      // What a killed transfer leaves behind: rsync's `.name.XXXXXX`, our local `.name.tmp-*`.
      fs.mkdirSync(path.dirname(fileOf('inflight/x')), { recursive: true });
      fs.writeFileSync(fileOf('inflight/.k.Ab12Cd'), 'partial');
      fs.writeFileSync(fileOf('inflight/.k.tmp-0123456789abcdef'), 'partial');
    }
    const source = new PassThrough();
    const put = target.put('inflight/k', () => source);
    source.write(Buffer.alloc(100 * 1024, 2));
    await new Promise((r) => setTimeout(r, 300));
    t.is(await target.head('inflight/k'), undefined);
    t.deepEqual(await target.list('inflight/'), []);
    source.end(Buffer.alloc(100 * 1024, 3));
    await put;
    t.is((await target.head('inflight/k'))?.size, 200 * 1024);
  });

  test(`${kind}: unsafe keys and prefixes are rejected before anything is stored`, async (t) => {
    const { target } = fixture(kind);
    const bad = ['', '../escape', 'a/../../escape', '/abs', 'a//b', 'a/', './a', 'a/.hidden', 'a/*', 'a\\b', 'a/\n'];
    for (const key of bad) {
      await t.throwsAsync(target.put(key, () => streamOf('x')), { code: 'invalid-key' }, `put ${JSON.stringify(key)}`);
      await t.throwsAsync(target.get(key), { code: 'invalid-key' }, `get ${JSON.stringify(key)}`);
      await t.throwsAsync(target.head(key), { code: 'invalid-key' }, `head ${JSON.stringify(key)}`);
      await t.throwsAsync(target.delete(['ok/key', key]), { code: 'invalid-key' }, `delete ${JSON.stringify(key)}`);
    }
    for (const prefix of ['../', '/', '/abs', 'a//', '..']) {
      await t.throwsAsync(target.list(prefix), { code: 'invalid-key' }, `list ${JSON.stringify(prefix)}`);
    }
    if (kind === 'local') t.false(fs.existsSync(path.join(localDir, '..', 'escape')));
  });

  test(`${kind}: describe() and errors name the target without secrets`, async (t) => {
    const { target } = fixture(kind);
    t.is(target.name, kind);
    const text = `${target.describe()} ${(await t.throwsAsync(target.get('nope/x')))?.message}`;
    t.regex(text, new RegExp(`target "${kind}"`));
    const password = fs.readFileSync(rsyncd.passwordFile, 'utf8').trim();
    t.false(`${text}\n${logged.join('')}`.includes(password));
  });
}

// ------------------------------------------------------------------------------ list paging

for (const kind of ['local', 's3'] as const) {
  test(`${kind}: list returns more than 1000 objects (paging) and delete removes them in batches`, async (t) => {
    const { target } = fixture(kind);
    const keys = Array.from({ length: 1100 }, (_, i) => `paged/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => target.put(k, () => streamOf(k))));
    }
    const listed = await target.list('paged/');
    t.is(listed.length, 1100);
    t.deepEqual(keysOf(listed), keys);
    await target.delete(keys);
    t.deepEqual(await target.list('paged/'), []);
  });
}

// ------------------------------------------------------------------------------ down targets

/** A fresh target for `kind` that worked once, and a function that takes its server away. */
async function downable(kind: Kind): Promise<{ target: Target; takeDown(): Promise<void> }> {
  const opts = { retryDelayMs: 100 };
  switch (kind) {
    case 'local': {
      const dir = tempDir('tapstack-local-down-');
      return { target: createTarget({ type: 'local', name: kind, path: dir }, opts), takeDown: async () => fs.rmSync(dir, { recursive: true }) };
    }
    case 's3': {
      const server = await startS3rver();
      return { target: createTarget(server.spec(kind), opts), takeDown: server.stop };
    }
    case 'rsyncd': {
      const server = await startRsyncDaemon();
      return { target: createTarget(server.spec(kind), opts), takeDown: server.stop };
    }
    case 'ssh': {
      const server = await startSshd();
      return { target: createTarget(server.spec(kind), opts), takeDown: server.stop };
    }
  }
}

for (const kind of KINDS) {
  test(`${kind}: a target that is down fails fast with a clear error`, async (t) => {
    const { target, takeDown } = await downable(kind);
    await target.put('up/k', () => streamOf('up'));
    t.is((await read(target, 'up/k')).toString(), 'up');
    await takeDown();
    const started = Date.now();
    for (const op of [() => target.put('down/k', () => streamOf('x')), () => target.list(''), () => target.get('up/k')]) {
      const err = await t.throwsAsync(op(), { code: 'unreachable' });
      t.regex(err?.message ?? '', new RegExp(`target "${kind}"`));
    }
    t.true(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    await target.close?.();
  });
}

// ------------------------------------------------------------------------- credentials, specs

test('rsyncd: a wrong password is refused with auth-failed', async (t) => {
  const dir = tempDir('tapstack-rsync-pw-');
  const passwordFile = path.join(dir, 'password');
  fs.writeFileSync(passwordFile, 'not-the-password\n', { mode: 0o600 });
  const target = createTarget({ ...rsyncd.spec('wrong-password'), passwordFile });
  await t.throwsAsync(target.list(''), { code: 'auth-failed', message: /auth failed/ });
  fs.rmSync(dir, { recursive: true });
});

test('ssh: an unknown host key is refused with auth-failed', async (t) => {
  const dir = tempDir('tapstack-ssh-kh-');
  const knownHostsFile = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHostsFile, '');
  const target = createTarget({ ...sshd.spec('unknown-host'), knownHostsFile });
  await t.throwsAsync(target.list(''), { code: 'auth-failed', message: /Host key verification failed/ });
  fs.rmSync(dir, { recursive: true });
});

test('unusable target specs are refused when the target is created', (t) => {
  const bad: TargetSpec[] = [
    { type: 'local', name: 'l', path: '' },
    { type: 's3', name: 's', bucket: 'b', region: 'r', accessKeyId: 'AKIA' },
    { type: 's3', name: 's', bucket: 'b', region: 'r', partSize: 1024 },
    { type: 's3', name: 's', bucket: 'b', region: 'r', prefix: 'a/../b' },
    { type: 'rsync', name: 'r', url: 'http://host/x' },
    { type: 'rsync', name: 'r', url: 'rsync://user:hunter2@host/module' },
    { type: 'rsync', name: 'r', url: 'rsync://user@host/' },
    { type: 'rsync', name: 'r', url: 'ssh://user@host/x', passwordFile: '/p' },
    { type: 'nfs', name: 'n' } as unknown as TargetSpec,
  ];
  for (const spec of bad) {
    const err = t.throws(() => createTarget(spec), { code: 'invalid-config' }, JSON.stringify(spec));
    t.false(err?.message.includes('hunter2'), 'no secret in the message');
  }
});
