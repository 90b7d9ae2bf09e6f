/** A test wallet that signs real EIP-4361 messages (ethers v6 + siwe). */
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { post } from './api.js';

export interface MessageFields {
  domain: string;
  uri: string;
  chainId: number;
  nonce: string;
  issuedAt: Date;
  address?: string;
  expirationTime?: Date;
  notBefore?: Date;
  scheme?: string;
}

export function buildMessage(wallet: Wallet, f: MessageFields): string {
  return new SiweMessage({
    domain: f.domain,
    address: f.address ?? wallet.address,
    statement: 'Sign in to Tapstack',
    uri: f.uri,
    version: '1',
    chainId: f.chainId,
    nonce: f.nonce,
    issuedAt: f.issuedAt.toISOString(),
    ...(f.expirationTime ? { expirationTime: f.expirationTime.toISOString() } : {}),
    ...(f.notBefore ? { notBefore: f.notBefore.toISOString() } : {}),
    ...(f.scheme ? { scheme: f.scheme } : {}),
  }).prepareMessage();
}

/** Ask the API for a nonce and sign a message for it; `override` changes any field. */
export async function signedLogin(base: string, wallet: Wallet, override: Partial<MessageFields> = {}, headers: Record<string, string> = {}) {
  const n = await post(base, '/api/auth/nonce', {}, headers);
  if (n.status !== 200) throw new Error(`nonce request failed: ${n.status} ${JSON.stringify(n.body)}`);
  const fields: MessageFields = {
    domain: n.body.domain,
    uri: n.body.uri,
    chainId: n.body.chainIds[0],
    nonce: n.body.nonce,
    issuedAt: new Date(),
    ...override,
  };
  const message = buildMessage(wallet, fields);
  const signature = await wallet.signMessage(message);
  return { message, signature, nonce: fields.nonce };
}

/** Sign in and return the session token. */
export async function signIn(base: string, wallet: Wallet, headers: Record<string, string> = {}): Promise<string> {
  const { message, signature } = await signedLogin(base, wallet, {}, headers);
  const r = await post(base, '/api/auth/verify', { message, signature }, headers);
  if (r.status !== 200) throw new Error(`sign-in failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}
