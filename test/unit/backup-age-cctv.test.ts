/**
 * Conformance of backup/crypto against the C2SP CCTV age test vectors (the `cctv-age` package):
 * every vector that uses X25519 identities or passphrases, armored or not. Hybrid (post-quantum)
 * vectors are left out: backups use X25519 only (TOOLING.md: age 1.1 cannot read hybrid keys).
 * Mapping of the vectors' `expect` to our AgeError codes:
 *   success           decrypts, and the payload's SHA-256 matches
 *   no match          'wrong-key'
 *   HMAC failure      'corrupt', no plaintext released
 *   header failure    fails before any plaintext is released (code: corrupt | unsupported | truncated)
 *   armor failure     fails before any plaintext is released
 *   payload failure   fails with corrupt | truncated; what was released matches the payload hash, or
 *                     is a shorter, whole-chunk prefix of it: our stream withholds each 64 KiB chunk
 *                     until it knows whether it is the last one, so it may release one chunk less
 *                     than the reference (never more, never an unauthenticated byte)
 * Armor is not supported by backup/crypto (backups never armor; `age -d` reads armor): every armored
 * vector must be refused ('unsupported', or 'corrupt' when the armor line is not at the start)
 * without releasing a byte, whatever the vector expects of an implementation that reads armor.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as vectorsModule from 'cctv-age';
import { createDecryptStream, isAgeError } from '../../backup/crypto/index.js';

interface Vector {
  name: string;
  expect: string;
  payload?: string;
  identities: string[];
  passphrases: string[];
  armored: boolean;
  body: Buffer;
}

function parse(name: string, file: Uint8Array): Vector {
  const buf = Buffer.from(file);
  const split = buf.indexOf('\n\n');
  const v: Vector = { name, expect: '', identities: [], passphrases: [], armored: false, body: buf.subarray(split + 2) };
  let compressed = false;
  for (const line of buf.subarray(0, split).toString('utf8').split('\n')) {
    const at = line.indexOf(': ');
    const key = line.slice(0, at);
    const value = line.slice(at + 2);
    if (key === 'expect') v.expect = value;
    else if (key === 'payload') v.payload = value;
    else if (key === 'identity') v.identities.push(value);
    else if (key === 'passphrase') v.passphrases.push(value);
    else if (key === 'armored') v.armored = value === 'yes';
    else if (key === 'compressed') compressed = value === 'zlib';
  }
  if (compressed) v.body = inflateSync(v.body);
  return v;
}

const all = Object.entries(vectorsModule as unknown as Record<string, Uint8Array>).map(([n, f]) => parse(n, f));
const ours = all.filter((v) => v.identities.every((i) => i.startsWith('AGE-SECRET-KEY-1')) && v.identities.length + v.passphrases.length > 0);

async function attempt(v: Vector, spec: { identities: string[]; passphrase?: string }): Promise<{ released: Buffer; err?: unknown }> {
  const parts: Buffer[] = [];
  try {
    await pipeline(
      Readable.from([v.body]),
      createDecryptStream(spec, { maxScryptWorkFactor: 22 }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          parts.push(chunk);
          cb();
        },
      }),
    );
    return { released: Buffer.concat(parts) };
  } catch (err) {
    return { released: Buffer.concat(parts), err };
  }
}

const CHUNK = 64 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('the vector set holds the X25519, scrypt and armored cases this suite claims to run', (t) => {
  t.true(ours.length >= 100, `${ours.length} vectors`);
  t.true(ours.some((v) => v.passphrases.length > 0 && v.expect === 'success'));
  t.true(ours.some((v) => v.armored));
  t.true(ours.some((v) => v.expect === 'payload failure'));
});

for (const v of ours) {
  test(`CCTV ${v.name} (${v.expect}${v.armored ? ', armored' : ''})`, async (t) => {
    // One passphrase per attempt (a spec holds one); identities all at once, as age does.
    const specs = v.passphrases.length ? v.passphrases.map((p) => ({ identities: v.identities, passphrase: p })) : [{ identities: v.identities }];
    let r = await attempt(v, specs[0] as { identities: string[]; passphrase?: string });
    for (const spec of specs.slice(1)) if (r.err && isAgeError(r.err, 'wrong-key')) r = await attempt(v, spec);
    if (v.armored) {
      t.true(isAgeError(r.err) && ['unsupported', 'corrupt'].includes(r.err.code), String(r.err));
      t.is(r.released.length, 0);
      return;
    }
    switch (v.expect) {
      case 'success':
        t.is(r.err, undefined, String(r.err));
        t.is(sha(r.released), v.payload ?? sha(Buffer.alloc(0)));
        break;
      case 'no match':
        t.true(isAgeError(r.err, 'wrong-key'), String(r.err));
        t.is(r.released.length, 0);
        break;
      case 'HMAC failure':
        t.true(isAgeError(r.err, 'corrupt'), String(r.err));
        t.is(r.released.length, 0);
        break;
      case 'header failure':
      case 'armor failure':
        t.true(isAgeError(r.err) && ['corrupt', 'unsupported', 'truncated'].includes(r.err.code), String(r.err));
        t.is(r.released.length, 0);
        break;
      case 'payload failure':
        t.true(isAgeError(r.err) && ['corrupt', 'truncated'].includes(r.err.code), String(r.err));
        if (sha(r.released) !== v.payload) t.is(r.released.length % CHUNK, 0, 'a withheld chunk, not a torn one');
        break;
      default:
        t.fail(`unknown expectation ${v.expect}`);
    }
  });
}
