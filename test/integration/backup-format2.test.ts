/**
 * Backup format 2 (issue 15): what a target holds can be neither read, guessed nor forged.
 * - no plaintext SHA-256 of any restored file or chunk in object names or unencrypted bytes;
 * - a planted manifest (encrypted to the right recipient, signed by another key) and a tampered
 *   signed manifest are refused by restore and verify ('bad-signature');
 * - format-1 backups made by the previous release stay listable, verifiable and restorable, and the
 *   first format-2 run re-uploads once and says so.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { decryptBuffer, generateSigningKey, parseIdentityFile, parseSigningPrivateKey } from '../../backup/crypto/index.js';
import { ensureInstallKeys } from '../../backup/engine/install-keys.js';
import { writeSignedManifest } from '../../backup/engine/seal.js';
import { newBackupId, type TapstackManifest } from '../../backup/snapshot/manifest.js';
import { createTarget } from '../../backup/targets/index.js';
import { runCli } from '../helpers/cli.js';
import { writeV1Backup } from '../helpers/backup-v1-writer.js';
import { localTarget, makeAppliance, type Appliance } from './backup-helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))]));
}

async function sealedOf(app: Appliance, dir: string, id: string): Promise<TapstackManifest> {
  const pub = JSON.parse(fs.readFileSync(path.join(dir, 'backups', id, 'manifest.json'), 'utf8')) as { sealed: string };
  const identities = parseIdentityFile(fs.readFileSync(app.keyFile, 'utf8'));
  return JSON.parse((await decryptBuffer({ identities }, Buffer.from(pub.sealed, 'base64'))).toString('utf8')) as TapstackManifest;
}

async function backedUp(): Promise<{ app: Appliance; dir: string; id: string }> {
  const app = makeAppliance({ targets: [], rows: 30 });
  const target = localTarget(app.root, 'usb');
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }));
  const created = await runCli(['backup', 'create', '--kind', 'full', '--json'], app.env);
  if (created.code !== 0) throw new Error(created.stdout + created.stderr);
  return { app, dir: target.path, id: created.json.targets[0].id as string };
}

test('a target reveals no plaintext hash: not in object names, not in any unencrypted byte', async (t) => {
  const { app, dir, id } = await backedUp();
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.code, 0, verified.stdout);
  const m = await sealedOf(app, dir, id);
  // The plaintext hashes: every file and chunk, recomputed from the decrypted chunks themselves.
  const hashes = new Set<string>();
  const identities = parseIdentityFile(fs.readFileSync(app.keyFile, 'utf8'));
  for (const f of m.files) {
    const parts: Buffer[] = [];
    for (const c of f.chunks) {
      const plain = await decryptBuffer({ identities }, fs.readFileSync(path.join(dir, 'chunks', `${c.id}.age`)));
      t.is(sha(plain), c.sha256);
      hashes.add(c.sha256);
      parts.push(plain);
    }
    t.is(sha(Buffer.concat(parts)), f.sha256, f.name);
    hashes.add(f.sha256);
  }
  t.true(hashes.size >= m.files.length);
  const objects = walk(dir);
  t.true(objects.some((k) => k.startsWith('keys/dedup-')), 'the dedup key is stored, encrypted');
  t.true(objects.some((k) => k.endsWith('manifest.sig')));
  const plaintextObjects = objects.filter((k) => !k.endsWith('.age'));
  for (const h of hashes) {
    const prefix = h.slice(0, 12); // messages used to print 12-digit prefixes
    for (const k of objects) t.false(k.includes(prefix), `object name ${k} holds a plaintext hash`);
    for (const k of plaintextObjects) {
      const text = fs.readFileSync(path.join(dir, k)).toString('latin1');
      t.false(text.includes(prefix), `${k} holds a plaintext hash`);
    }
  }
  const listed = await runCli(['backup', 'list', '--json'], app.env);
  t.false(Array.from(hashes).some((h) => listed.stdout.includes(h.slice(0, 12))), 'nor does a key-less listing');
  // The stored dedup key decrypts to the installation's.
  const keyObject = objects.find((k) => k.startsWith('keys/dedup-')) as string;
  const stored = (await decryptBuffer({ identities }, fs.readFileSync(path.join(dir, keyObject)))).toString('utf8').trim();
  t.is(stored, ensureInstallKeys(app.dataDir).dedupKey.toString('hex'));
});

test('a planted manifest encrypted to the right recipient but signed by another key is refused by restore and verify', async (t) => {
  const { app, dir, id } = await backedUp();
  const genuine = await sealedOf(app, dir, id);
  const other = generateSigningKey();
  const keys = ensureInstallKeys(app.dataDir);
  const at = genuine.snapshotAt + 60_000;
  const planted: TapstackManifest = { ...genuine, id: newBackupId('full', at), createdAt: new Date(at).toISOString(), snapshotAt: at };
  const target = createTarget({ type: 'local', name: 'usb', path: dir });
  await writeSignedManifest(target, planted, { recipients: [app.recipient] }, { ...keys, signingKey: parseSigningPrivateKey(other.privatePem), publicKey: other.publicKey });

  const listed = await runCli(['backup', 'list', '--json'], app.env);
  t.deepEqual(listed.json[0].backups.map((b: { id: string; signature: string }) => [b.id, b.signature]), [[id, 'ok'], [planted.id, 'bad']]);
  const restored = await runCli(['backup', 'restore', '--identity', app.keyFile, '--json'], app.env);
  t.is(restored.code, 1, restored.stdout);
  t.is(restored.json.error.code, 'bad-signature');
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.code, 1, verified.stdout);
  t.is(verified.json.targets[0].status, 'bad-signature');
  t.is(verified.json.targets[0].error.code, 'bad-signature');
  const keyless = await runCli(['backup', 'verify', '--ciphertext-only', '--json'], app.env);
  t.is(keyless.json.targets[0].status, 'bad-signature', 'the signature is checked without a decryption key too');
  t.false(fs.existsSync(path.join(dir, 'backups', planted.id, fs.readdirSync(path.join(dir, 'backups', planted.id)).find((n) => n.startsWith('verify-')) ?? 'none')), 'nothing recorded');
  // The genuine backup is still restorable by id; the attacker's key given explicitly is not "trusted" by accident.
  const byId = await runCli(['backup', 'restore', '--identity', app.keyFile, '--backup', id, '--json'], app.env);
  t.is(byId.code, 0, byId.stdout);
  const fresh = { ...app.env, TAPSTACK_DATA_DIR: path.join(app.root, 'fresh') };
  const noKey = await runCli(['backup', 'restore', '--identity', app.keyFile, '--backup', id, '--json'], fresh);
  t.is(noKey.json.error.code, 'no-signing-key', 'a fresh host must be told which key to trust');
  t.is(noKey.code, 2);
  const withKey = await runCli(['backup', 'restore', '--identity', app.keyFile, '--signing-key', keys.publicKey, '--json'], fresh);
  t.is(withKey.json.error.code, 'bad-signature', 'the newest (planted) backup is refused on a fresh host too');
});

test('a signed manifest modified after signing is refused', async (t) => {
  const { app, dir, id } = await backedUp();
  const file = path.join(dir, 'backups', id, 'manifest.json');
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace(/"uploadedBytes": \d+/, '"uploadedBytes": 1'));
  t.not(fs.readFileSync(file, 'utf8'), text);
  const restored = await runCli(['backup', 'restore', '--identity', app.keyFile, '--json'], app.env);
  t.is(restored.json.error.code, 'bad-signature', restored.stdout);
  t.regex(restored.json.error.message, /modified after signing/);
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.json.targets[0].status, 'bad-signature');
  fs.rmSync(path.join(dir, 'backups', id, 'manifest.sig'));
  fs.writeFileSync(file, text);
  const unsigned = await runCli(['backup', 'restore', '--identity', app.keyFile, '--json'], app.env);
  t.is(unsigned.json.error.code, 'bad-signature', 'a missing signature is refused too');
});

test('format-1 backups of the previous release stay listable, verifiable and restorable; the first format-2 run re-uploads once', async (t) => {
  const app = makeAppliance({ targets: [], rows: 25 });
  const target = localTarget(app.root, 'usb');
  fs.writeFileSync(app.configFile, JSON.stringify({ targets: [target] }));
  const v1 = await writeV1Backup(app.env, target, app.configFile);

  const listed = await runCli(['backup', 'list', '--json'], app.env);
  t.is(listed.code, 0, listed.stderr);
  t.like(listed.json[0].backups[0], { id: v1.id, format: 'tapstack-backup/1', signature: 'unsigned', ledger: v1.ledger });
  const verified = await runCli(['backup', 'verify', '--identity', app.keyFile, '--json'], app.env);
  t.is(verified.code, 0, verified.stdout);
  t.true(verified.json.targets[0].record.ok);
  t.is(verified.json.targets[0].record.level, 'drill');

  const refused = await runCli(['backup', 'restore', '--identity', app.keyFile, '--json'], app.env);
  t.is(refused.code, 2, refused.stdout);
  t.is(refused.json.error.code, 'unsigned-backup');
  const restored = await runCli(['backup', 'restore', '--identity', app.keyFile, '--allow-unsigned', '--json'], app.env);
  t.is(restored.code, 0, restored.stdout + restored.stderr);
  t.true(restored.json.done);
  t.is(restored.json.integrity.rows, v1.ledger.rows);
  t.is(restored.json.integrity.head.hash, v1.ledger.headHash);

  const first = await runCli(['backup', 'create', '--json'], app.env);
  t.is(first.code, 0, first.stderr);
  const r = first.json.targets[0];
  t.is(r.status, 'created');
  t.is(r.reusedChunks, 0, 'no format-1 chunk is reused under a keyed name');
  t.true(r.notes.some((n: string) => n.startsWith('first format-2 backup on this target')), JSON.stringify(r.notes));
  const again = await runCli(['backup', 'create', '--json'], app.env);
  t.is(again.json.targets[0].uploadedChunks, 0, 'once only');
  t.false(again.json.targets[0].notes.some((n: string) => n.startsWith('first format-2')));
  const both = await runCli(['backup', 'list', '--json'], app.env);
  t.deepEqual(both.json[0].backups.map((b: { format: string }) => b.format).slice(0, 2), ['tapstack-backup/1', 'tapstack-backup/2']);
});
