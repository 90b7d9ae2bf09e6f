import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Wallet, verifyMessage } from 'ethers';
import { SiweMessage } from 'siwe';
import { parseSiweMessage } from 'viem/siwe';
import { describe, expect, it } from 'vitest';
import { buildSiweMessage, chainToUse, STATEMENT } from '../src/lib/siwe.js';
import { formatMoney, formatMultiplier, formatPrice, parseUnits } from '../src/lib/format.js';
import { knownCodes, sentenceFor } from '../src/lib/messages.js';

const nonce = { nonce: 'abcdef0123456789', domain: 'localhost:8443', uri: 'https://localhost:8443', chainIds: [1, 8453] };
const wallet = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');

describe('SIWE message building', () => {
  it('uses the server-given domain, uri, nonce and chain, and an EIP-55 address', () => {
    const msg = buildSiweMessage(nonce, wallet.address.toLowerCase(), 8453, new Date('2026-12-01T12:00:00.000Z'));
    const parsed = parseSiweMessage(msg);
    expect(parsed).toMatchObject({ domain: 'localhost:8443', uri: 'https://localhost:8443', nonce: 'abcdef0123456789', chainId: 8453, version: '1', statement: STATEMENT, address: wallet.address });
    expect(msg.startsWith('localhost:8443 wants you to sign in with your Ethereum account:\n' + wallet.address + '\n')).toBe(true);
  });
  it('is byte-for-byte the message the server-side siwe library builds and parses', () => {
    const issuedAt = new Date('2026-12-01T12:00:00.000Z');
    const msg = buildSiweMessage(nonce, wallet.address, 1, issuedAt);
    const reference = new SiweMessage({ domain: nonce.domain, address: wallet.address, statement: STATEMENT, uri: nonce.uri, version: '1', chainId: 1, nonce: nonce.nonce, issuedAt: issuedAt.toISOString() }).prepareMessage();
    expect(msg).toBe(reference);
    const back = new SiweMessage(msg);
    expect(back.nonce).toBe(nonce.nonce);
    expect(back.chainId).toBe(1);
  });
  it('a personal_sign signature over it recovers the address', async () => {
    const msg = buildSiweMessage(nonce, wallet.address, 1, new Date());
    expect(verifyMessage(msg, await wallet.signMessage(msg))).toBe(wallet.address);
  });
  it('refuses a chain the server does not allow, and says which to switch to', () => {
    expect(() => buildSiweMessage(nonce, wallet.address, 5, new Date())).toThrow(/not allowed/);
    expect(chainToUse(5, [1, 8453])).toEqual({ ok: false, switchTo: 1 });
    expect(chainToUse(8453, [1, 8453])).toEqual({ ok: true, chainId: 8453 });
  });
});

describe('formatting and refusal sentences', () => {
  it('formats integers of minor units exactly', () => {
    expect(formatMoney(100_000, { code: 'USD', decimals: 2 })).toBe('$1,000.00');
    expect(formatMoney(5, { code: 'EUR', decimals: 2 })).toBe('0.05 EUR');
    expect(formatMultiplier(411)).toBe('4.11×');
    expect(formatPrice(10_001_234)).toBe('$100,012.34');
    expect(parseUnits('12.5', 2)).toBe(1250);
    expect(parseUnits('0.10', 2)).toBe(10);
    expect(parseUnits('1.234', 2)).toBeUndefined();
    expect(parseUnits('abc', 2)).toBeUndefined();
  });
  it('has a sentence for every refusal code the README lists', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const paragraphs = readme.split(/\n\n/).filter((p) => /^(Sign-in checks|Bet refusals)/.test(p));
    expect(paragraphs).toHaveLength(2);
    const codes = paragraphs.flatMap((p) => [...p.matchAll(/`([a-z]+(?:-[a-z]+)*)`/g)].map((m) => m[1] as string));
    expect(codes.length).toBeGreaterThan(25);
    for (const code of [...codes, 'capacity', 'disk-low', 'unavailable']) expect(knownCodes(), code).toContain(code);
    expect(sentenceFor('insufficient-funds')).toMatch(/Insufficient balance/);
    expect(sentenceFor('some-new-code', 'the server said no')).toBe('The server said no.');
  });
});
