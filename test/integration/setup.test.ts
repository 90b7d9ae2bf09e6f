/**
 * `tapstack setup` run as the entrypoint runs it (bin/tapstack, built output) in temp directories:
 * first boot, idempotent re-runs, certificate renewal, and every refusal with its exit code,
 * message and no partial state left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { runCli, runCommand, TAPSTACK_BIN, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';

const ORIGIN = 'https://tapstack.example:8443';
const DAY_MS = 86_400_000;
const isRoot = process.getuid?.() === 0;

interface Install {
  root: string;
  data: string;
  tls: string;
  env: Record<string, string>;
}

/** A data directory that exists (as a mounted volume would); TLS in its default place inside it. */
function install(extra: Record<string, string> = {}, opts: { createData?: boolean } = {}): Install {
  const root = tempDir('tapstack-setup-');
  const data = path.join(root, 'data');
  if (opts.createData !== false) fs.mkdirSync(data);
  const env = { TAPSTACK_DATA_DIR: data, TAPSTACK_PUBLIC_ORIGIN: ORIGIN, TAPSTACK_REDIS_URL: 'redis://127.0.0.1:6390/0', TAPSTACK_LOG_LEVEL: 'warn', ...extra };
  return { root, data, tls: extra.TAPSTACK_TLS_DIR ?? path.join(data, 'tls'), env };
}

const setup = (env: Record<string, string>) => runCli(['setup', '--json'], env);
/** What a refusal told the operator: with --json the error is the JSON document on stdout. */
const said = (r: CliResult): string => `${r.stderr}${r.json?.error ? `${r.json.error.message} [${r.json.error.code}]` : ''}`;
const statuses = (r: CliResult): Record<string, string> => Object.fromEntries((r.json?.steps ?? []).map((s: { step: string; status: string }) => [s.step, s.status]));
const mode = (file: string) => fs.statSync(file).mode & 0o777;
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const certText = (file: string) => execFileSync('openssl', ['x509', '-noout', '-text', '-in', file], { encoding: 'utf8' });
const fingerprint = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256;

/** Run `bin/tapstack setup --json` in a private mount namespace after `mountScript` ran there. */
function setupInMountNamespace(mountScript: string, env: Record<string, string>): Promise<CliResult> {
  return runCommand('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${mountScript} && exec "$0" setup --json`, TAPSTACK_BIN], env);
}

function selfSigned(dir: string, name: string, host: string, days = 30): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', String(days), '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

test('first boot creates the marker, the secret, the certificate and the rendered configs', async (t) => {
  const i = install();
  const r = await setup(i.env);
  t.is(r.code, 0, r.stderr);
  t.like(statuses(r), { 'data-volume': 'ok', 'volume-marker': 'created', 'redis-password': 'created', 'tls-certificate': 'created', 'tls-marker': 'created', 'nginx-config': 'created', 'redis-config': 'created', migrations: 'created', 'cli-env': 'created' });

  const marker = readJson(path.join(i.data, '.tapstack-volume.json'));
  t.regex(marker.installId, /^[0-9a-f-]{36}$/);
  t.is(marker.version, '0.1.0');
  t.false(Number.isNaN(Date.parse(marker.createdAt)));
  t.is(r.json.installId, marker.installId);
  t.is(readJson(path.join(i.tls, '.tapstack-volume.json')).installId, marker.installId);

  const secretFile = path.join(i.data, 'secrets', 'redis-password');
  const secret = fs.readFileSync(secretFile, 'utf8').trim();
  t.regex(secret, /^[0-9a-f]{64}$/);
  t.is(mode(secretFile), 0o600);
  t.false(r.stdout.includes(secret) || r.stderr.includes(secret), 'the password is never printed');

  const certFile = path.join(i.tls, 'cert.pem');
  const keyFile = path.join(i.tls, 'key.pem');
  t.is(mode(keyFile), 0o600);
  const text = certText(certFile);
  t.regex(text, /Public Key Algorithm: id-ecPublicKey/);
  t.regex(text, /NIST CURVE: P-256/);
  t.regex(text, /X509v3 Subject Alternative Name:\s*\n\s*DNS:tapstack\.example\s*\n/);
  const cert = new X509Certificate(fs.readFileSync(certFile));
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY_MS;
  t.true(days <= 398 && days >= 396, `validity ${days} days`);

  const run = path.join(i.data, 'run');
  const nginx = fs.readFileSync(path.join(run, 'nginx.conf'), 'utf8');
  t.false(nginx.includes('{{'));
  t.true(nginx.includes(`ssl_certificate     ${certFile};`));
  t.true(nginx.includes(`pid ${path.join(run, 'nginx')}/nginx.pid;`));
  t.regex(nginx, /listen 0\.0\.0\.0:443 ssl http2 default_server;/);
  t.regex(nginx, /return 301 https:\/\/tapstack\.example:8443\$request_uri;/);
  const redis = fs.readFileSync(path.join(run, 'redis.conf'), 'utf8');
  t.is(mode(path.join(run, 'redis.conf')), 0o600);
  for (const line of ['bind 127.0.0.1', 'port 6390', `requirepass "${secret}"`, `dir "${path.join(i.data, 'redis')}"`, 'appendonly yes', 'appendfsync everysec', 'maxmemory-policy noeviction']) t.true(redis.split('\n').includes(line), line);
  t.regex(redis, /^save \d+ \d+/m);
  t.regex(redis, /^maxmemory \d+mb$/m);
  t.is(fs.readFileSync(path.join(run, 'cli.env'), 'utf8'), `TAPSTACK_REDIS_URL=redis://127.0.0.1:6390/0\nTAPSTACK_REDIS_PASSWORD_FILE=${secretFile}\n`);
  t.true(fs.existsSync(path.join(i.data, 'tapstack.db')));
});

test('a second run keeps everything: same install id, same secret, same certificate', async (t) => {
  const i = install();
  const first = await setup(i.env);
  t.is(first.code, 0, first.stderr);
  const secret = fs.readFileSync(path.join(i.data, 'secrets', 'redis-password'), 'utf8');
  const fp = fingerprint(path.join(i.tls, 'cert.pem'));

  // bin/tapstack now also reads run/cli.env, which names our own password file: still "ours".
  const again = await setup(i.env);
  t.is(again.code, 0, again.stderr);
  t.is(again.json.installId, first.json.installId);
  for (const [step, status] of Object.entries(statuses(again))) t.true(status === 'kept' || (step === 'data-volume' && status === 'ok'), `${step}: ${status}`);
  t.is(fs.readFileSync(path.join(i.data, 'secrets', 'redis-password'), 'utf8'), secret);
  t.is(fingerprint(path.join(i.tls, 'cert.pem')), fp);

  const text = await runCli(['setup'], i.env);
  t.is(text.code, 0);
  t.regex(text.stdout, new RegExp(`ready \\(install ${first.json.installId}\\)`));
});

test('the certificate is regenerated when it nears expiry or the public host changes, never the install id', async (t) => {
  const i = install({ TAPSTACK_PUBLIC_ORIGIN: 'https://192.0.2.10' });
  const first = await setup(i.env);
  t.is(first.code, 0, first.stderr);
  const certFile = path.join(i.tls, 'cert.pem');
  t.regex(certText(certFile), /IP Address:192\.0\.2\.10/);
  t.regex(fs.readFileSync(path.join(i.data, 'run', 'nginx.conf'), 'utf8'), /return 301 https:\/\/192\.0\.2\.10\$request_uri;/);

  const moved = await setup({ ...i.env, TAPSTACK_PUBLIC_ORIGIN: 'https://play.example' });
  t.is(moved.code, 0, moved.stderr);
  t.like(statuses(moved), { 'tls-certificate': 'updated', 'nginx-config': 'updated', 'volume-marker': 'kept' });
  t.is(moved.json.installId, first.json.installId);
  t.regex(certText(certFile), /DNS:play\.example/);

  // Replace the certificate by one (same key) that expires in 10 days.
  execFileSync('openssl', ['req', '-x509', '-new', '-key', path.join(i.tls, 'key.pem'), '-days', '10', '-subj', '/CN=play.example', '-addext', 'subjectAltName=DNS:play.example', '-out', certFile], { stdio: 'ignore' });
  const renewed = await setup({ ...i.env, TAPSTACK_PUBLIC_ORIGIN: 'https://play.example' });
  t.is(renewed.code, 0, renewed.stderr);
  const step = renewed.json.steps.find((s: { step: string }) => s.step === 'tls-certificate');
  t.is(step.status, 'updated');
  t.regex(step.detail, /within 30 days/);
  t.true(Date.parse(new X509Certificate(fs.readFileSync(certFile)).validTo) - Date.now() > 390 * DAY_MS);
});

test('a missing data directory is refused with exit 10 and a hint to mount a volume', async (t) => {
  const i = install({}, { createData: false });
  const r = await setup(i.env);
  t.is(r.code, 10);
  t.regex(said(r), /data directory .* does not exist .*mount a volume there \(e\.g\. `docker run -v tapstack-data:.*\[data-dir-missing\]/);
  t.like(r.json, { ok: false, error: { code: 'data-dir-missing', exitCode: 10 } });
  t.false(fs.existsSync(i.data));
});

test('with TAPSTACK_DATA_REQUIRE_MOUNT a plain directory is refused with exit 11, a mount point accepted', async (t) => {
  const i = install({ TAPSTACK_DATA_REQUIRE_MOUNT: 'true' });
  const r = await setup(i.env);
  t.is(r.code, 11);
  t.regex(said(r), /is not a mount point: it is the image's own directory.*\[data-not-mounted\]/);
  t.deepEqual(fs.readdirSync(i.data), [], 'nothing written');

  if (!isRoot) return t.log('not root: mount namespace case skipped');
  const mounted = await setupInMountNamespace(`mount -t tmpfs tmpfs '${i.data}'`, i.env);
  t.is(mounted.code, 0, mounted.stderr);
  t.regex(mounted.json.steps[0].detail, /mount point/);
});

test('a read-only data volume is refused with exit 12', async (t) => {
  if (!isRoot) return t.pass('needs root for a read-only mount (root ignores permissions otherwise)');
  const i = install();
  const r = await setupInMountNamespace(`mount -t tmpfs -o ro tmpfs '${i.data}'`, i.env);
  t.is(r.code, 12, r.stderr);
  t.regex(said(r), /does not take durable writes \(EROFS.*mount it read-write.*\[data-not-writable\]/);
});

test('too little free space is refused with exit 13', async (t) => {
  const i = install({ TAPSTACK_DATA_MIN_FREE_MB: '999999999' });
  const r = await setup(i.env);
  t.is(r.code, 13);
  t.regex(said(r), /only \d+ MB free on the data volume .*requires 999999999 MB.*\[data-low-space\]/);
  t.deepEqual(fs.readdirSync(i.data), []);
});

test('a non-empty directory without marker is refused with exit 14 and left untouched; the override adopts it', async (t) => {
  const i = install();
  fs.writeFileSync(path.join(i.data, 'notes.txt'), 'someone else\n');
  const r = await setup(i.env);
  t.is(r.code, 14);
  t.regex(said(r), /is not empty \(notes\.txt\) but carries no Tapstack volume marker.*TAPSTACK_ALLOW_UNMARKED_DATA=true.*\[data-unmarked\]/);
  t.deepEqual(fs.readdirSync(i.data), ['notes.txt'], 'no marker, no lock, no secret');

  const adopted = await setup({ ...i.env, TAPSTACK_ALLOW_UNMARKED_DATA: 'true' });
  t.is(adopted.code, 0, adopted.stderr);
  t.is(statuses(adopted)['volume-marker'], 'adopted');
  t.true(adopted.json.warnings.some((w: string) => /adopted a non-empty directory/.test(w)));
  t.true(fs.existsSync(path.join(i.data, '.tapstack-volume.json')));
  t.true(fs.existsSync(path.join(i.data, 'notes.txt')));
  const later = await setup(i.env);
  t.is(later.code, 0, 'marked now: no override needed');
});

test('an empty data volume next to a marked TLS volume is a forgotten volume: exit 14 naming the install id', async (t) => {
  const tlsDir = path.join(tempDir('tapstack-tls-'), 'tls');
  const original = install({ TAPSTACK_TLS_DIR: tlsDir });
  const first = await setup(original.env);
  t.is(first.code, 0, first.stderr);
  const id = first.json.installId;

  const forgotten = install({ TAPSTACK_TLS_DIR: tlsDir });
  const r = await setup(forgotten.env);
  t.is(r.code, 14);
  t.true(said(r).includes(`looks empty but this installation (install id ${id}) already exists`), said(r));
  t.regex(said(r), /was the data volume mounted\?.*TAPSTACK_ALLOW_UNMARKED_DATA=true.*\[data-forgotten\]/);
  t.deepEqual(fs.readdirSync(forgotten.data), []);

  const override = await setup({ ...forgotten.env, TAPSTACK_ALLOW_UNMARKED_DATA: 'true' });
  t.is(override.code, 0, override.stderr);
  t.is(override.json.installId, id, 'the installation keeps its id');
  t.is(statuses(override)['volume-marker'], 'adopted');

  // Volumes of two installations mixed up: the data of one, the TLS directory of another.
  const other = install({ TAPSTACK_TLS_DIR: path.join(tempDir('tapstack-tls-'), 'tls') });
  t.is((await setup(other.env)).code, 0);
  const mixed = await setup({ ...original.env, TAPSTACK_TLS_DIR: other.env.TAPSTACK_TLS_DIR! });
  t.is(mixed.code, 14);
  t.regex(said(mixed), /belongs to installation .* but the TLS directory .* to installation .*\[install-mismatch\]/);
});

test('operator TLS material must be readable and a matching pair (exit 15), nothing written otherwise', async (t) => {
  const dir = tempDir('tapstack-operator-');
  const a = selfSigned(dir, 'a', 'tapstack.example');
  const b = selfSigned(dir, 'b', 'tapstack.example');

  const mismatched = install({ TAPSTACK_TLS_CERT_FILE: a.cert, TAPSTACK_TLS_KEY_FILE: b.key });
  const r = await setup(mismatched.env);
  t.is(r.code, 15);
  t.regex(said(r), /the private key does not belong to the certificate.*\[tls-bad-material\]/);
  t.deepEqual(fs.readdirSync(mismatched.data), [], 'refused before the first write');

  const missing = await setup({ ...mismatched.env, TAPSTACK_TLS_CERT_FILE: path.join(dir, 'nope.crt') });
  t.is(missing.code, 15);
  t.regex(said(missing), /cannot read .*nope\.crt \(ENOENT\)/);

  const notPem = path.join(dir, 'junk.key');
  fs.writeFileSync(notPem, 'not a key\n');
  const junk = await setup({ ...mismatched.env, TAPSTACK_TLS_KEY_FILE: notPem });
  t.is(junk.code, 15);
  t.regex(said(junk), /not an unencrypted PEM private key/);

  const good = install({ TAPSTACK_TLS_CERT_FILE: a.cert, TAPSTACK_TLS_KEY_FILE: a.key });
  const ok = await setup(good.env);
  t.is(ok.code, 0, ok.stderr);
  t.is(statuses(ok)['tls-certificate'], 'ok');
  t.true(ok.json.warnings.some((w: string) => /expires on/.test(w)), 'a 30-day certificate is flagged');
  const nginx = fs.readFileSync(path.join(good.data, 'run', 'nginx.conf'), 'utf8');
  t.true(nginx.includes(`ssl_certificate     ${a.cert};`) && nginx.includes(`ssl_certificate_key ${a.key};`));
  t.false(fs.existsSync(path.join(good.tls, 'cert.pem')), 'no self-signed certificate generated');
});

test('a read-only TLS directory is refused with exit 15 before the data volume is touched', async (t) => {
  if (!isRoot) return t.pass('needs root for a read-only mount');
  const tlsDir = path.join(tempDir('tapstack-tls-'), 'tls');
  fs.mkdirSync(tlsDir);
  const i = install({ TAPSTACK_TLS_DIR: tlsDir });
  const r = await setupInMountNamespace(`mount -t tmpfs -o ro tmpfs '${tlsDir}'`, i.env);
  t.is(r.code, 15, r.stderr);
  t.regex(said(r), /cannot write the TLS directory .*EROFS.*\[tls-bad-material\]/);
  t.deepEqual(fs.readdirSync(i.data), []);
});

test('an invalid setting exits 78 before anything is checked', async (t) => {
  const i = install({ TAPSTACK_HSTS_MAX_AGE: '-1' });
  const r = await setup(i.env);
  t.is(r.code, 78);
  t.regex(said(r), /TAPSTACK_HSTS_MAX_AGE/);
  t.deepEqual(fs.readdirSync(i.data), []);
});

test('concurrent first boots on one volume agree on one install id and one password', async (t) => {
  const i = install();
  const runs = await Promise.all([1, 2, 3, 4].map(() => setup(i.env)));
  for (const r of runs) t.is(r.code, 0, r.stderr);
  t.is(new Set(runs.map((r) => r.json.installId)).size, 1);
  t.is(runs.filter((r) => statuses(r)['volume-marker'] === 'created').length, 1);
  t.is(runs.filter((r) => statuses(r)['redis-password'] === 'created').length, 1);
  const secret = fs.readFileSync(path.join(i.data, 'secrets', 'redis-password'), 'utf8').trim();
  t.true(fs.readFileSync(path.join(i.data, 'run', 'redis.conf'), 'utf8').includes(`requirepass "${secret}"`));
});
