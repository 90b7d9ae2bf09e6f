import test from 'ava';
import { randomBytes, randomInt } from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import {
  createDecryptStream,
  createEncryptStream,
  decryptBuffer,
  decryptIdentityFile,
  encryptBuffer,
  encryptIdentityFile,
  generateKeyPair,
  sealedPayloadSize,
} from '../../backup/crypto/index.js';

const KiB = 1024;
const CHUNK = 64 * KiB;
const SIZES = [0, 1, 65535, 65536, 65537, 3 * CHUNK, 5 * 1024 * KiB];
/** Tests use a cheap scrypt cost; one test checks the real default. */
const FAST = { scryptWorkFactor: 10 };

/** Split `data` into writes of random sizes (1 byte up to a few chunks) to exercise the buffering. */
function pieces(data: Buffer, max = 3 * CHUNK): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; ) {
    const n = Math.min(data.length - off, randomInt(1, max + 1));
    out.push(data.subarray(off, off + n));
    off += n;
  }
  return out;
}

async function run(transform: Transform, input: Buffer[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from(input),
    transform,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        parts.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(parts);
}

function headerLength(file: Buffer): number {
  const mac = file.indexOf('\n--- ');
  return file.indexOf('\n', mac + 1) + 1;
}

test('round trip at chunk-boundary sizes, in one write and in ragged writes', async (t) => {
  const { identity, recipient } = generateKeyPair();
  for (const size of SIZES) {
    const plaintext = randomBytes(size);
    const whole = await encryptBuffer({ recipients: [recipient] }, plaintext);
    t.is(whole.length, headerLength(whole) + 16 + sealedPayloadSize(size), `ciphertext size for ${size}`);
    t.true((await decryptBuffer({ identities: [identity] }, whole)).equals(plaintext), `one write, ${size}`);
    const ragged = await run(createEncryptStream({ recipients: [recipient] }), pieces(plaintext));
    const back = await run(createDecryptStream({ identities: [identity] }, { plaintextSize: size }), pieces(ragged));
    t.true(back.equals(plaintext), `ragged writes, ${size}`);
  }
});

test('byte-at-a-time writes work across header, nonce and chunk boundaries', async (t) => {
  const { identity, recipient } = generateKeyPair();
  const plaintext = randomBytes(CHUNK + 100);
  const bytes = (b: Buffer) => Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
  const ct = await run(createEncryptStream({ recipients: [recipient] }), bytes(plaintext.subarray(0, 300)).concat([plaintext.subarray(300)]));
  const head = bytes(ct.subarray(0, 400));
  t.true((await run(createDecryptStream({ identities: [identity] }), [...head, ct.subarray(400)])).equals(plaintext));
});

test('every recipient of a multi-recipient file can decrypt it, each alone', async (t) => {
  const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const plaintext = randomBytes(100_000);
  const ct = await encryptBuffer({ recipients: keys.map((k) => k.recipient) }, plaintext);
  t.is((ct.toString('latin1').match(/\n-> X25519 /g) ?? []).length, 3);
  for (const k of keys) t.true((await decryptBuffer({ identities: [k.identity] }, ct)).equals(plaintext));
  // An identity list that contains the right key among others also works.
  t.true((await decryptBuffer({ identities: [generateKeyPair().identity, keys[2]!.identity] }, ct)).equals(plaintext));
});

test('two encryptions of the same data differ (fresh file key, ephemeral share and nonce)', async (t) => {
  const { recipient } = generateKeyPair();
  const plaintext = Buffer.from('same');
  t.false((await encryptBuffer({ recipients: [recipient] }, plaintext)).equals(await encryptBuffer({ recipients: [recipient] }, plaintext)));
});

test('passphrase round trip; the default scrypt cost is age\'s 2^18', async (t) => {
  for (const size of [0, 65537]) {
    const plaintext = randomBytes(size);
    const ct = await encryptBuffer({ recipients: [], passphrase: 'correct horse battery staple' }, plaintext, FAST);
    t.regex(ct.toString('latin1'), /^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 10\n/);
    t.true((await decryptBuffer({ identities: [], passphrase: 'correct horse battery staple' }, ct)).equals(plaintext));
  }
  const real = await encryptBuffer({ recipients: [], passphrase: 'pw' }, Buffer.from('x'));
  t.regex(real.toString('latin1'), /\n-> scrypt \S+ 18\n/);
  t.is((await decryptBuffer({ identities: [], passphrase: 'pw' }, real)).toString(), 'x');
});

test('a passphrase-protected identity file unlocks recipient-encrypted data', async (t) => {
  const { identity, recipient } = generateKeyPair();
  const backup = await encryptBuffer({ recipients: [recipient] }, Buffer.from('ledger'));
  const locked = await encryptIdentityFile(identity, 'recovery words', FAST);
  const [unlocked] = await decryptIdentityFile(locked, 'recovery words');
  t.is(unlocked, identity);
  t.is((await decryptBuffer({ identities: [unlocked!] }, backup)).toString(), 'ledger');
  await t.throwsAsync(decryptIdentityFile(locked, 'wrong words'), { code: 'wrong-key' });
});

test('age-encryption (npm) decrypts our X25519 files', async (t) => {
  const { identity, recipient } = generateKeyPair();
  const other = generateKeyPair();
  for (const size of [0, 1, 65536, 65537, 3 * CHUNK + 7]) {
    const plaintext = randomBytes(size);
    const ct = await encryptBuffer({ recipients: [other.recipient, recipient] }, plaintext);
    const d = new Decrypter();
    d.addIdentity(identity);
    t.true(Buffer.from(await d.decrypt(ct)).equals(plaintext), `size ${size}`);
  }
});

test('we decrypt X25519 files written by age-encryption (npm), including several recipients', async (t) => {
  const theirs = await generateX25519Identity();
  const ours = generateKeyPair();
  for (const size of [0, 1, 65535, 65536, 65537, 200_000]) {
    const plaintext = randomBytes(size);
    const e = new Encrypter();
    e.addRecipient(ours.recipient);
    e.addRecipient(await identityToRecipient(theirs));
    const ct = Buffer.from(await e.encrypt(plaintext));
    t.true((await decryptBuffer({ identities: [ours.identity] }, ct)).equals(plaintext), `ours, size ${size}`);
    t.true((await decryptBuffer({ identities: [theirs] }, ct, { plaintextSize: size })).equals(plaintext), `theirs, size ${size}`);
  }
});

test('scrypt interop with age-encryption (npm), both ways', async (t) => {
  const plaintext = randomBytes(70_000);
  const ours = await encryptBuffer({ recipients: [], passphrase: 'tapstack' }, plaintext, FAST);
  const d = new Decrypter();
  d.addPassphrase('tapstack');
  t.true(Buffer.from(await d.decrypt(ours)).equals(plaintext));

  const e = new Encrypter();
  e.setPassphrase('tapstack');
  e.setScryptWorkFactor(12);
  const theirs = Buffer.from(await e.encrypt(plaintext));
  t.true((await decryptBuffer({ identities: [], passphrase: 'tapstack' }, theirs)).equals(plaintext));
  await t.throwsAsync(decryptBuffer({ identities: [], passphrase: 'tapstacK' }, theirs), { code: 'wrong-key', message: /wrong passphrase/ });
});

test('the encrypt stream keeps memory bounded: output flows before the input ends', async (t) => {
  const { recipient } = generateKeyPair();
  const enc = createEncryptStream({ recipients: [recipient] });
  let out = 0;
  enc.on('data', (b: Buffer) => (out += b.length));
  for (let i = 0; i < 20; i++) enc.write(randomBytes(CHUNK));
  await new Promise((r) => setImmediate(r));
  // 20 chunks written, the last held back (it may be the final one): 19 sealed already.
  t.true(out >= 19 * (CHUNK + 16), `${out} bytes out before end()`);
  enc.end();
  await new Promise((r) => enc.on('end', r));
});
