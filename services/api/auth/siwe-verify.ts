/**
 * Sign-In with Ethereum verification (EIP-4361). `siwe` parses the message; everything siwe does
 * not check by itself (DOMAIN.md §3) is checked here against the config, never the request:
 * domain, URI origin, scheme, chain id allow-list, issuedAt skew, expiry, notBefore; then the
 * EIP-191 signature (ethers), and last the nonce, consumed atomically so a message works once.
 * Every failure is an AppError with a stable code.
 */
import { verifyMessage } from 'ethers';
import { SiweMessage } from 'siwe';
import type { Config } from '../../shared/config.js';
import { badRequest, unauthorized } from '../../shared/errors.js';
import { isChecksummed } from '../../shared/address.js';
import type { NonceStore } from './nonces.js';

export interface SiweDeps {
  config: Config;
  nonces: NonceStore;
  now: () => number;
  /**
   * Called once the signature is proven, before the nonce is consumed (the per-address rate limit):
   * only the key holder spends an address's budget, so nobody can lock another wallet out.
   */
  afterSignature?: (address: string) => Promise<void>;
}

const SIGNATURE_RE = /^0x[0-9a-fA-F]{130}$/;

/** Verify a signed SIWE message; resolves to the EIP-55 address that signed in. */
export async function verifySiwe(deps: SiweDeps, message: string, signature: string): Promise<string> {
  const { siwe } = deps.config;
  if (!SIGNATURE_RE.test(signature)) throw badRequest('malformed-signature', 'signature must be 0x followed by 130 hex digits');

  // siwe's parser rejects a non-checksummed address with a generic error; say precisely why.
  const addressLine = message.split('\n')[1]?.trim() ?? '';
  if (/^0x[0-9a-fA-F]{40}$/.test(addressLine) && !isChecksummed(addressLine)) {
    throw badRequest('address-not-checksummed', 'the address in the message must be EIP-55 checksummed');
  }
  let parsed: SiweMessage;
  try {
    parsed = new SiweMessage(message);
  } catch {
    throw badRequest('malformed-message', 'not a valid EIP-4361 Sign-In with Ethereum message');
  }
  if (!isChecksummed(parsed.address)) throw badRequest('address-not-checksummed', 'the address in the message must be EIP-55 checksummed');

  if (parsed.domain !== siwe.domain) {
    throw unauthorized('domain-mismatch', `message is for domain "${parsed.domain}", this service is "${siwe.domain}"`);
  }
  const expectedScheme = new URL(siwe.origin).protocol.replace(':', '');
  if (parsed.scheme !== undefined && parsed.scheme !== expectedScheme) {
    throw unauthorized('scheme-mismatch', `message scheme "${parsed.scheme}" is not "${expectedScheme}"`);
  }
  let uriOrigin: string;
  try {
    uriOrigin = new URL(parsed.uri).origin;
  } catch {
    throw badRequest('malformed-message', 'message URI is not a valid URL');
  }
  if (uriOrigin !== siwe.origin) throw unauthorized('origin-mismatch', `message URI origin "${uriOrigin}" is not "${siwe.origin}"`);
  if (!siwe.chainIds.includes(parsed.chainId)) {
    throw unauthorized('chain-not-allowed', `chain id ${parsed.chainId} is not accepted (allowed: ${siwe.chainIds.join(', ')})`);
  }

  const now = deps.now();
  const issuedAt = Date.parse(parsed.issuedAt ?? '');
  if (Number.isNaN(issuedAt)) throw badRequest('malformed-message', 'issuedAt is missing or not ISO-8601');
  if (Math.abs(now - issuedAt) > siwe.maxSkewSeconds * 1000) {
    throw unauthorized('issued-at-skew', `issuedAt must be within ${siwe.maxSkewSeconds} s of the server clock`);
  }
  if (parsed.expirationTime !== undefined) {
    const exp = Date.parse(parsed.expirationTime);
    if (Number.isNaN(exp)) throw badRequest('malformed-message', 'expirationTime is not ISO-8601');
    if (exp <= now) throw unauthorized('message-expired', 'the message has expired');
  }
  if (parsed.notBefore !== undefined) {
    const nbf = Date.parse(parsed.notBefore);
    if (Number.isNaN(nbf)) throw badRequest('malformed-message', 'notBefore is not ISO-8601');
    if (nbf > now) throw unauthorized('message-not-yet-valid', 'the message is not valid yet (notBefore)');
  }

  let recovered: string;
  try {
    recovered = verifyMessage(message, signature);
  } catch {
    throw unauthorized('bad-signature', 'the signature is not valid');
  }
  if (recovered !== parsed.address) throw unauthorized('bad-signature', 'the signature was not made by the address in the message');

  await deps.afterSignature?.(parsed.address);

  // Last, so a forged message cannot burn a legitimate client's nonce.
  const consumed = await deps.nonces.consume(parsed.nonce);
  if (consumed === 'reused') throw unauthorized('nonce-reused', 'this nonce was already used: request a new one');
  if (consumed === 'unknown') throw unauthorized('nonce-expired', 'the nonce expired or was never issued: request a new one');
  return parsed.address;
}

