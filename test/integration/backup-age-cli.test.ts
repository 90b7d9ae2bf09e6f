/**
 * The stock `age` CLI (Debian's age 1.1) and backup/crypto read each other's files: X25519 through
 * identity/recipient files, passphrases through a pseudo-terminal (`age` reads passphrases only
 * from a tty), and a passphrase-protected identity file unlocking recipient-encrypted data.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  decryptBuffer,
  encryptBuffer,
  encryptIdentityFile,
  formatIdentityFile,
  generateKeyPair,
  parseIdentityFile,
  recipientFromIdentity,
} from '../../backup/crypto/index.js';
import { tempDir } from '../helpers/env.js';

const run = promisify(execFile);
const hasAge = spawnSync('age', ['--version']).status === 0 && spawnSync('script', ['--version']).status === 0;
const ageTest = hasAge ? test : test.skip;
if (!hasAge) console.warn('backup-age-cli: `age` or `script` missing (apt-get install age bsdutils): skipped');

function scratch(t: ExecutionContext): string {
  const dir = tempDir('tapstack-age-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run `command` under a pseudo-terminal (`script`), answering every passphrase prompt with
 * `passphrase` when it appears, so the answer never races the prompt.
 */
function runInTty(command: string, passphrase: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const onData = (b: Buffer) => {
      output += b.toString();
      const prompts = (output.match(/passphrase[^\n]*?: /gi) ?? []).length;
      for (; answered < prompts; answered++) child.stdin.write(`${passphrase}\n`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

ageTest('age -d -i decrypts our files, from its own identity file and from ours', async (t) => {
  const dir = scratch(t);
  const theirKey = path.join(dir, 'age-keygen.txt');
  await run('age-keygen', ['-o', theirKey]);
  const theirRecipient = (await run('age-keygen', ['-y', theirKey])).stdout.trim();
  const [theirIdentity] = parseIdentityFile(fs.readFileSync(theirKey, 'utf8'));
  t.is(recipientFromIdentity(theirIdentity!), theirRecipient);

  const ours = generateKeyPair();
  const ourKey = path.join(dir, 'ours.txt');
  fs.writeFileSync(ourKey, formatIdentityFile(ours.identity), { mode: 0o600 });
  t.is((await run('age-keygen', ['-y', ourKey])).stdout.trim(), ours.recipient, 'age derives the same recipient from our identity');

  for (const size of [0, 1, 65536, 65537, 300_000]) {
    const plaintext = randomBytes(size);
    const ct = path.join(dir, `ours-${size}.age`);
    fs.writeFileSync(ct, await encryptBuffer({ recipients: [theirRecipient, ours.recipient] }, plaintext));
    for (const key of [theirKey, ourKey]) {
      // stdout, not -o: age creates the -o file only once it has a byte to write.
      const { stdout } = await run('age', ['-d', '-i', key, ct], { encoding: 'buffer', maxBuffer: 1 << 24 });
      t.true(stdout.equals(plaintext), `size ${size} with ${path.basename(key)}`);
    }
  }
});

ageTest('we decrypt what age -r writes, to one or several recipients', async (t) => {
  const dir = scratch(t);
  const a = generateKeyPair();
  const b = generateKeyPair();
  for (const size of [0, 1, 65535, 65536, 200_000]) {
    const plaintext = randomBytes(size);
    const input = path.join(dir, `plain-${size}`);
    const ct = path.join(dir, `cli-${size}.age`);
    fs.writeFileSync(input, plaintext);
    await run('age', ['-r', a.recipient, '-r', b.recipient, '-o', ct, input]);
    const file = fs.readFileSync(ct);
    t.true((await decryptBuffer({ identities: [a.identity] }, file)).equals(plaintext), `size ${size}, first recipient`);
    t.true((await decryptBuffer({ identities: [b.identity] }, file, { plaintextSize: size })).equals(plaintext), `size ${size}, second`);
  }
});

ageTest('age rejects our damaged files too (same format, same checks)', async (t) => {
  const dir = scratch(t);
  const key = path.join(dir, 'key.txt');
  const k = generateKeyPair();
  fs.writeFileSync(key, formatIdentityFile(k.identity));
  const good = await encryptBuffer({ recipients: [k.recipient] }, randomBytes(100_000));
  const flipped = Buffer.from(good);
  flipped[good.length - 5]! ^= 1;
  for (const [name, bytes] of [['flipped', flipped], ['truncated', good.subarray(0, good.length - 100)]] as const) {
    const file = path.join(dir, `${name}.age`);
    fs.writeFileSync(file, bytes);
    await t.throwsAsync(run('age', ['-d', '-i', key, '-o', path.join(dir, 'out'), file]), undefined, name);
  }
});

ageTest('passphrase files: age -d reads ours, and we read age -p output', async (t) => {
  const dir = scratch(t);
  const passphrase = 'correct horse battery staple';
  const plaintext = randomBytes(70_000);

  const ours = path.join(dir, 'ours.age');
  fs.writeFileSync(ours, await encryptBuffer({ recipients: [], passphrase }, plaintext, { scryptWorkFactor: 14 }));
  const out = path.join(dir, 'out');
  const dec = await runInTty(`age -d -o ${q(out)} ${q(ours)}`, passphrase);
  t.is(dec.code, 0, dec.output);
  t.true(fs.readFileSync(out).equals(plaintext));

  const input = path.join(dir, 'plain');
  const theirs = path.join(dir, 'theirs.age');
  fs.writeFileSync(input, plaintext);
  const enc = await runInTty(`age -p -o ${q(theirs)} ${q(input)}`, passphrase);
  t.is(enc.code, 0, enc.output);
  const file = fs.readFileSync(theirs);
  t.regex(file.toString('latin1', 0, 100), /\n-> scrypt \S+ 18\n/);
  t.true((await decryptBuffer({ identities: [], passphrase }, file)).equals(plaintext));
});

ageTest('age -d -i reads a passphrase-protected identity file: the recipients + passphrase recovery path', async (t) => {
  const dir = scratch(t);
  const k = generateKeyPair();
  const plaintext = randomBytes(10_000);
  const backup = path.join(dir, 'backup.age');
  const identity = path.join(dir, 'identity.age');
  fs.writeFileSync(backup, await encryptBuffer({ recipients: [k.recipient] }, plaintext));
  fs.writeFileSync(identity, await encryptIdentityFile(k.identity, 'recovery words', { scryptWorkFactor: 14 }));
  const out = path.join(dir, 'out');
  const r = await runInTty(`age -d -i ${q(identity)} -o ${q(out)} ${q(backup)}`, 'recovery words');
  t.is(r.code, 0, r.output);
  t.true(fs.readFileSync(out).equals(plaintext));
});
