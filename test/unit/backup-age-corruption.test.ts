import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { armor } from 'age-encryption';
import { createDecryptStream, decryptBuffer, encryptBuffer, generateKeyPair, type AgeErrorCode } from '../../backup/crypto/index.js';
import { encodeHeader, type Stanza } from '../../backup/crypto/header.js';
import { parseRecipient } from '../../backup/crypto/age-keys.js';
import { payloadKey, sealChunk } from '../../backup/crypto/payload.js';
import { wrapX25519 } from '../../backup/crypto/stanzas.js';

const CHUNK = 64 * 1024;
const SEALED = CHUNK + 16;
const me = generateKeyPair();
const other = generateKeyPair();
// Four chunks: three full ones and a short final one.
const PLAINTEXT = randomBytes(3 * CHUNK + 1000);
const file = await encryptBuffer({ recipients: [me.recipient] }, PLAINTEXT);
const HEADER = headerLength(file);
const chunkAt = (i: number) => HEADER + 16 + i * SEALED;

function headerLength(f: Buffer): number {
  return f.indexOf('\n', f.indexOf('\n--- ') + 1) + 1;
}

function flip(f: Buffer, offset: number, bit = 0): Buffer {
  const out = Buffer.from(f);
  out[offset]! ^= 1 << bit;
  return out;
}

/** `f` with the base64 letter at `offset` (not a last, padding-bearing one) replaced by another. */
function otherLetter(f: Buffer, offset: number): Buffer {
  const out = Buffer.from(f);
  out[offset] = out[offset] === 0x41 ? 0x42 : 0x41;
  return out;
}

async function rejects(t: ExecutionContext, f: Buffer, code: AgeErrorCode, message: RegExp | undefined, what: string, plaintextSize?: number) {
  const opts = plaintextSize === undefined ? {} : { plaintextSize };
  const err = await t.throwsAsync(decryptBuffer({ identities: [me.identity] }, f, opts), { instanceOf: Error }, what);
  t.is((err as { code?: string } | undefined)?.code, code, `${what}: ${err?.message}`);
  if (message) t.regex(err?.message ?? '', message, what);
}

test('the intact file decrypts (the baseline of every case below)', async (t) => {
  t.true((await decryptBuffer({ identities: [me.identity] }, file)).equals(PLAINTEXT));
  t.is(file.length, chunkAt(3) + 1000 + 16);
});

test('a wrong identity, a missing passphrase and a wrong passphrase are wrong-key', async (t) => {
  await t.throwsAsync(decryptBuffer({ identities: [other.identity] }, file), { code: 'wrong-key', message: /wrong key: none of the 1 identity/ });
  await t.throwsAsync(decryptBuffer({ identities: [], passphrase: 'pw' }, file), { code: 'wrong-key', message: /no identity was given/ });
  const pw = await encryptBuffer({ recipients: [], passphrase: 'pw' }, Buffer.from('x'), { scryptWorkFactor: 10 });
  await t.throwsAsync(decryptBuffer({ identities: [me.identity] }, pw), { code: 'wrong-key', message: /passphrase-protected/ });
  await t.throwsAsync(decryptBuffer({ identities: [], passphrase: 'PW' }, pw), { code: 'wrong-key', message: /wrong passphrase/ });
});

test('errors are Error objects with a stable code and a readable message', async (t) => {
  const err = await t.throwsAsync(decryptBuffer({ identities: [me.identity] }, flip(file, chunkAt(1) + 5)));
  t.true(err instanceof Error);
  t.is(err?.name, 'AgeError');
  t.is((err as Error & { code: string }).code, 'corrupt');
  t.regex(err?.message ?? '', /chunk 1 fails authentication/);
});

test('a bit flip anywhere in the header is refused (MAC, structure, or no stanza opens)', async (t) => {
  // The empty file matters too: its payload is too short to hide a header running into it.
  for (const f of [file, await encryptBuffer({ recipients: [me.recipient] }, Buffer.alloc(0))]) {
    const stanzaStart = f.indexOf('\n-> ') + 1;
    const footerStart = f.indexOf('\n--- ') + 1;
    for (let offset = 0; offset < headerLength(f); offset++) {
      for (let bit = 0; bit < 8; bit++) {
        const err = await t.throwsAsync(decryptBuffer({ identities: [me.identity] }, flip(f, offset, bit)));
        const code = (err as { code?: string } | undefined)?.code;
        // Our own stanza damaged is, to the cryptography, the same as a stanza for someone else.
        const expected = offset >= stanzaStart + 3 && offset < footerStart ? ['wrong-key', 'corrupt'] : ['corrupt'];
        if (!expected.includes(code ?? '')) t.fail(`flip at ${offset}.${bit}: ${code} ${err?.message}`);
      }
    }
  }
  t.pass();
});

test('a flipped stanza that is not ours, or the MAC itself, fails the header MAC', async (t) => {
  const two = await encryptBuffer({ recipients: [other.recipient, me.recipient] }, Buffer.from('payload'));
  const otherShare = two.indexOf('-> X25519 ') + 12;
  const otherBody = two.indexOf('\n', otherShare) + 5;
  // Another base64 letter, not a raw bit flip: that may give a non-base64 byte, a syntax error.
  for (const offset of [otherShare, otherBody]) {
    await rejects(t, otherLetter(two, offset), 'corrupt', /header MAC mismatch/, `other stanza at ${offset}`);
  }
  await rejects(t, otherLetter(file, file.indexOf('\n--- ') + 6), 'corrupt', /header MAC mismatch/, 'MAC');
  await rejects(t, flip(file, HEADER - 2, 0), 'corrupt', undefined, 'last MAC character');
});

test('a bit flip in the payload nonce, any chunk, or the last tag is corrupt', async (t) => {
  const offsets: [string, number][] = [
    ['nonce', HEADER + 3],
    ['chunk 0 start', chunkAt(0)],
    ['chunk 1 middle', chunkAt(1) + CHUNK / 2],
    ['chunk 2 tag', chunkAt(2) + CHUNK + 15],
    ['last chunk data', chunkAt(3) + 10],
    ['last tag', file.length - 1],
    ['last tag first byte', file.length - 16],
  ];
  for (const [what, offset] of offsets) await rejects(t, flip(file, offset, 7), 'corrupt', /fails authentication/, what);
});

test('plaintext leaves only after its chunk authenticated: nothing from a damaged chunk', async (t) => {
  const damaged = flip(file, chunkAt(2) + 100);
  const received: Buffer[] = [];
  const err = await t.throwsAsync(
    pipeline(
      Readable.from([damaged]),
      createDecryptStream({ identities: [me.identity] }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          received.push(chunk);
          cb();
        },
      }),
    ),
  );
  t.is((err as { code?: string } | undefined)?.code, 'corrupt');
  t.true(Buffer.concat(received).equals(PLAINTEXT.subarray(0, 2 * CHUNK)));
});

test('swapped chunks are corrupt', async (t) => {
  const swapped = Buffer.concat([file.subarray(0, chunkAt(0)), file.subarray(chunkAt(1), chunkAt(2)), file.subarray(chunkAt(0), chunkAt(1)), file.subarray(chunkAt(2))]);
  await rejects(t, swapped, 'corrupt', /chunk 0 fails authentication/, 'swap 0 and 1');
});

test('truncation in the header, the nonce, at a chunk boundary or inside a tag is truncated', async (t) => {
  const cuts: [string, number, RegExp][] = [
    ['empty file', 0, /empty input/],
    ['inside the version line', 10, /inside the age header/],
    ['inside the stanza', file.indexOf('-> X25519') + 20, /inside the age header/],
    ['inside the MAC line', HEADER - 10, /inside the age header/],
    ['right after the header', HEADER, /payload nonce/],
    ['inside the nonce', HEADER + 8, /payload nonce/],
    ['after the nonce', chunkAt(0), /before its first payload chunk/],
    ['after chunk 0', chunkAt(1), /not the final chunk: it was cut short at a chunk boundary/],
    ['after chunk 2', chunkAt(3), /after chunk 2, which is not the final chunk/],
    ['15 bytes into chunk 1', chunkAt(1) + 15, /ends inside chunk 1/],
    ['1 byte into the last chunk', chunkAt(3) + 1, /ends inside chunk 3/],
  ];
  for (const [what, at, message] of cuts) await rejects(t, file.subarray(0, at), 'truncated', message, what);
});

test('a cut inside a chunk is truncated when the size is known, corrupt (cut short or modified) when not', async (t) => {
  for (const at of [chunkAt(0) + 100, chunkAt(1) + CHUNK / 2, chunkAt(3) + 500, file.length - 1]) {
    const cut = file.subarray(0, at);
    await rejects(t, cut, 'truncated', /cut short: \d+ of \d+ payload bytes/, `cut at ${at}, size known`, PLAINTEXT.length);
    await rejects(t, cut, 'corrupt', /modified, or cut short inside that chunk/, `cut at ${at}, size unknown`);
  }
});

test('bytes appended after the final chunk are corrupt', async (t) => {
  for (const extra of [Buffer.from([0]), randomBytes(100), randomBytes(SEALED + 5), file.subarray(chunkAt(3))]) {
    const longer = Buffer.concat([file, extra]);
    await rejects(t, longer, 'corrupt', undefined, `${extra.length} bytes appended`);
    await rejects(t, longer, 'corrupt', /longer than expected/, `${extra.length} bytes appended, size known`, PLAINTEXT.length);
  }
  // After a full-size final chunk the extra bytes are recognised as such.
  const full = await encryptBuffer({ recipients: [me.recipient] }, randomBytes(2 * CHUNK));
  await rejects(t, Buffer.concat([full, Buffer.from('garbage')]), 'corrupt', /data follows the final chunk/, 'after a full final chunk');
});

test('the size check accepts the exact size and names the mismatch otherwise', async (t) => {
  t.true((await decryptBuffer({ identities: [me.identity] }, file, { plaintextSize: PLAINTEXT.length })).equals(PLAINTEXT));
  await rejects(t, file, 'corrupt', /longer than expected/, 'smaller size claimed', PLAINTEXT.length - 1);
  await rejects(t, file, 'truncated', /cut short/, 'larger size claimed', PLAINTEXT.length + 1);
});

/** A hand-built age file, for shapes our encryptor never writes. */
function craft(stanzas: Stanza[], fileKey: Buffer, chunks: { data: Buffer; last: boolean }[]): Buffer {
  const nonce = randomBytes(16);
  const key = payloadKey(fileKey, nonce);
  return Buffer.concat([encodeHeader(stanzas, fileKey), nonce, ...chunks.flatMap((c, i) => sealChunk(key, i, c.last, c.data))]);
}

test('an empty final chunk after full chunks is refused, as age requires', async (t) => {
  const fileKey = randomBytes(16);
  const stanza = wrapX25519(fileKey, parseRecipient(me.recipient));
  const ok = craft([stanza], fileKey, [{ data: randomBytes(CHUNK), last: false }, { data: randomBytes(5), last: true }]);
  t.is((await decryptBuffer({ identities: [me.identity] }, ok)).length, CHUNK + 5);
  const emptyLast = craft([stanza], fileKey, [{ data: randomBytes(CHUNK), last: false }, { data: Buffer.alloc(0), last: true }]);
  await rejects(t, emptyLast, 'corrupt', /final chunk 1 is empty/, 'empty final chunk');
});

test('a scrypt stanza beside another stanza, or with an absurd cost, is refused before any scrypt runs', async (t) => {
  const fileKey = randomBytes(16);
  const x = wrapX25519(fileKey, parseRecipient(me.recipient));
  const scrypt = (logN: string): Stanza => ({ args: ['scrypt', randomBytes(16).toString('base64').replace(/=+$/, ''), logN], body: randomBytes(32) });
  const mixed = craft([x, scrypt('10')], fileKey, [{ data: Buffer.from('x'), last: true }]);
  await rejects(t, mixed, 'corrupt', /scrypt stanza must be the only stanza/, 'mixed');
  const costly = craft([scrypt('40')], fileKey, [{ data: Buffer.from('x'), last: true }]);
  await t.throwsAsync(decryptBuffer({ identities: [], passphrase: 'pw' }, costly), { code: 'unsupported', message: /work factor 2\^40 exceeds/ });
  const leadingZero = craft([scrypt('010')], fileKey, [{ data: Buffer.from('x'), last: true }]);
  await t.throwsAsync(decryptBuffer({ identities: [], passphrase: 'pw' }, leadingZero), { code: 'corrupt', message: /malformed scrypt stanza/ });
});

test('unknown stanza types are skipped; a file with only those is wrong-key', async (t) => {
  const fileKey = randomBytes(16);
  const grease: Stanza = { args: ['example.com/grease', 'a', 'b'], body: randomBytes(100) };
  const mine = wrapX25519(fileKey, parseRecipient(me.recipient));
  const withGrease = craft([grease, mine], fileKey, [{ data: Buffer.from('hello'), last: true }]);
  t.is((await decryptBuffer({ identities: [me.identity] }, withGrease)).toString(), 'hello');
  const onlyGrease = craft([grease], fileKey, [{ data: Buffer.from('hello'), last: true }]);
  await rejects(t, onlyGrease, 'wrong-key', /stanza types: example\.com\/grease/, 'only unknown stanzas');
});

test('non-age input is corrupt; armored age is reported as unsupported', async (t) => {
  await rejects(t, Buffer.from('hello world, this is not age\n'), 'corrupt', /not an age v1 file/, 'text');
  await rejects(t, randomBytes(1000), 'corrupt', undefined, 'random bytes');
  await rejects(t, Buffer.from('age-encryption.org/v2\n-> X25519 abc\n'), 'corrupt', /not an age v1 file/, 'other version');
  await rejects(t, Buffer.from(armor.encode(file.subarray(0, 2000))), 'unsupported', /armored/, 'armor');
  await rejects(t, Buffer.concat([Buffer.from('age-encryption.org/v1\n'), randomBytes(10_000)]), 'corrupt', /damaged age header/, 'garbage header');
});
