import test from 'ava';
import { bech32 } from '@scure/base';
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import {
  createDecryptStream,
  createEncryptStream,
  formatIdentityFile,
  generateKeyPair,
  parseIdentity,
  parseIdentityFile,
  parseRecipient,
  recipientFromIdentity,
} from '../../backup/crypto/index.js';

const badKey = { code: 'bad-key' } as const;

test('generateKeyPair returns an uppercase bech32 identity and its age1 recipient', (t) => {
  const { identity, recipient } = generateKeyPair();
  t.regex(identity, /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/);
  t.regex(recipient, /^age1[02-9ac-hj-np-z]{58}$/);
  t.is(recipientFromIdentity(identity), recipient);
  t.is(parseIdentity(identity).length, 32);
  t.is(parseRecipient(recipient).length, 32);
  t.not(generateKeyPair().identity, identity);
});

test('recipients derived here match the age-encryption package both ways', async (t) => {
  for (let i = 0; i < 5; i++) {
    const theirs = await generateX25519Identity();
    t.is(recipientFromIdentity(theirs), await identityToRecipient(theirs));
    const ours = generateKeyPair();
    t.is(await identityToRecipient(ours.identity), ours.recipient);
  }
});

test('keys are accepted in lower case and with surrounding whitespace', (t) => {
  const { identity, recipient } = generateKeyPair();
  t.deepEqual(parseIdentity(`  ${identity.toLowerCase()}\n`), parseIdentity(identity));
  t.deepEqual(parseRecipient(`${recipient.toUpperCase()}\n`), parseRecipient(recipient));
});

test('malformed identities are rejected with a clear message that never echoes the secret', (t) => {
  const { identity, recipient } = generateKeyPair();
  const last = identity.at(-1) === 'Q' ? 'P' : 'Q';
  const cases: [string, RegExp][] = [
    ['', /expected AGE-SECRET-KEY-1/],
    ['hello', /not an age identity/],
    [recipient, /looks like a recipient/],
    [identity.slice(0, -1) + last, /bad checksum/],
    [identity.slice(0, 40), /bad checksum|cut short/],
    [identity.slice(0, 20) + identity.slice(20).toLowerCase(), /mixes upper and lower case/],
    [identity.replace('AGE-SECRET-KEY-1', 'AGE-SECRET-KEY-1B'), /bad checksum/],
    [bech32.encode('age-secret-key-', bech32.toWords(new Uint8Array(31)), false).toUpperCase(), /31 bytes of key, expected 32/],
  ];
  for (const [input, message] of cases) {
    const err = t.throws(() => parseIdentity(input), badKey, input);
    t.regex(err?.message ?? '', message, input);
    if (input.length > 20) t.false(err?.message.includes(input.slice(16, 40)), 'the message must not quote the key');
  }
});

test('hybrid post-quantum keys are refused: age 1.1 could not read the backups', async (t) => {
  const hybrid = await generateHybridIdentity();
  t.throws(() => parseIdentity(hybrid), { code: 'bad-key', message: /post-quantum/ });
  const hybridRecipient = await identityToRecipient(hybrid);
  t.regex(hybridRecipient, /^age1pq1/);
  t.throws(() => parseRecipient(hybridRecipient), { code: 'bad-key', message: /post-quantum/ });
});

test('malformed recipients are rejected with a clear message', (t) => {
  const { identity, recipient } = generateKeyPair();
  const flipped = recipient.slice(0, 10) + (recipient[10] === 'q' ? 'p' : 'q') + recipient.slice(11);
  const cases: [string, RegExp][] = [
    ['', /expected age1/],
    ['bob@example.com', /not an age recipient/],
    [identity, /this is an identity/],
    [flipped, /invalid recipient/],
    [recipient.slice(0, -3), /invalid recipient/],
    ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH+ fred', /SSH recipients are not supported/],
    ['age1tag1qqqqqqqqqqqqqqqqqqqqqqqqqqq', /tag recipients/],
    [bech32.encode('age', bech32.toWords(new Uint8Array(33)), false), /33 bytes of key, expected 32/],
  ];
  for (const [input, message] of cases) t.throws(() => parseRecipient(input), { ...badKey, message }, input);
});

test('identity files: comments and blank lines skipped, bad lines named by number', (t) => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const file = `${formatIdentityFile(a.identity)}\n# another\n${b.identity}\n`;
  t.regex(file, new RegExp(`^# created: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n# public key: ${a.recipient}\\n`));
  t.deepEqual(parseIdentityFile(file), [a.identity, b.identity]);
  t.throws(() => parseIdentityFile('# nothing here\n\n'), { code: 'bad-key', message: /no AGE-SECRET-KEY-1/ });
  t.throws(() => parseIdentityFile(`# c\n${a.identity}\n${a.recipient}\n`), { code: 'bad-key', message: /line 3/ });
});

test('streams refuse malformed keys and empty specs before any byte flows', (t) => {
  const { identity, recipient } = generateKeyPair();
  t.throws(() => createEncryptStream({ recipients: [recipient, 'age1nope'] }), badKey);
  t.throws(() => createEncryptStream({ recipients: [] }), { code: 'bad-spec', message: /at least one recipient or a passphrase/ });
  t.throws(() => createEncryptStream({ recipients: [], passphrase: '' }), { code: 'bad-spec', message: /empty/ });
  t.throws(() => createDecryptStream({ identities: [identity, 'AGE-SECRET-KEY-1'] }), badKey);
  t.throws(() => createDecryptStream({ identities: [] }), { code: 'bad-spec', message: /identity or a passphrase/ });
});

test('recipients and a passphrase together are refused: age allows a scrypt stanza only alone', (t) => {
  const { recipient } = generateKeyPair();
  const err = t.throws(() => createEncryptStream({ recipients: [recipient], passphrase: 'pw' }), { code: 'bad-spec' });
  t.regex(err?.message ?? '', /scrypt stanza must be the only stanza/);
});

test('a low-order recipient point is refused', (t) => {
  const zero = bech32.encode('age', bech32.toWords(new Uint8Array(32)), false);
  t.throws(() => createEncryptStream({ recipients: [zero] }), { code: 'bad-key', message: /low-order/ });
});
