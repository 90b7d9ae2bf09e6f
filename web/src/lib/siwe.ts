/** Building the EIP-4361 sign-in message from the server's nonce answer (viem's builder). */
import { getAddress } from 'viem';
import { createSiweMessage } from 'viem/siwe';

export interface NonceAnswer {
  nonce: string;
  domain: string;
  uri: string;
  chainIds: number[];
}

export const STATEMENT = 'Sign in to Tapstack';

/**
 * The message a wallet signs: domain, uri, nonce and chain from the server (never from
 * `location`: the server checks its own configured origin), the address in EIP-55 form (the server
 * refuses lowercase), and issuedAt from the device clock (the server allows ±30 s).
 */
export function buildSiweMessage(n: NonceAnswer, address: string, chainId: number, now: Date): string {
  if (!n.chainIds.includes(chainId)) throw new Error(`chain ${chainId} is not allowed (${n.chainIds.join(', ')})`);
  return createSiweMessage({
    domain: n.domain,
    address: getAddress(address),
    statement: STATEMENT,
    uri: n.uri,
    version: '1',
    chainId,
    nonce: n.nonce,
    issuedAt: now,
  });
}

/** The chain to ask the wallet for when it is on one the server does not allow. */
export function chainToUse(walletChainId: number, allowed: readonly number[]): { ok: true; chainId: number } | { ok: false; switchTo: number } {
  if (allowed.includes(walletChainId)) return { ok: true, chainId: walletChainId };
  return { ok: false, switchTo: allowed[0] ?? 1 };
}
