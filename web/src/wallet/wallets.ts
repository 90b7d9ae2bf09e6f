/**
 * Injected wallets: EIP-6963 discovery (mipd), falling back to `window.ethereum`, and the sign-in
 * flow over EIP-1193: accounts, chain check (switch when the server does not allow it),
 * `personal_sign` of the EIP-4361 message, then the server's verify.
 */
import { createStore, type EIP1193Provider, type EIP6963ProviderDetail } from 'mipd';
import { stringToHex } from 'viem';
import { api, ApiError } from '../api/client.js';
import { buildSiweMessage, chainToUse, type NonceAnswer } from '../lib/siwe.js';
import type { Me } from '../lib/types.js';

export interface WalletOption {
  id: string;
  name: string;
  icon?: string;
  provider: EIP1193Provider;
}

/** Announced wallets, live; `window.ethereum` only if nobody announced. */
export function watchWallets(onChange: (wallets: WalletOption[]) => void): () => void {
  const store = createStore();
  const emit = () => {
    const announced = store.getProviders().map((d: EIP6963ProviderDetail) => ({ id: d.info.uuid, name: d.info.name, icon: d.info.icon, provider: d.provider }));
    const legacy = (window as unknown as { ethereum?: EIP1193Provider }).ethereum;
    onChange(announced.length || !legacy ? announced : [{ id: 'injected', name: 'Browser wallet', provider: legacy }]);
  };
  const unsubscribe = store.subscribe(emit);
  emit();
  return () => {
    unsubscribe();
    store.destroy();
  };
}

/** Something that can sign a SIWE message: an injected wallet or the demo wallet. */
export interface Signer {
  address(): Promise<string>;
  chainId(allowed: readonly number[]): Promise<number>;
  sign(message: string, address: string): Promise<string>;
}

const walletError = (err: unknown, fallback: string): ApiError => {
  const code = (err as { code?: number })?.code;
  if (code === 4001) return new ApiError(0, 'user-rejected', 'rejected in the wallet');
  return new ApiError(0, fallback, (err as Error)?.message ?? fallback);
};

export function injectedSigner(provider: EIP1193Provider): Signer {
  return {
    async address() {
      const accounts = (await provider.request({ method: 'eth_requestAccounts' }).catch((e: unknown) => Promise.reject(walletError(e, 'no-wallet')))) as string[];
      if (!accounts[0]) throw new ApiError(0, 'no-wallet', 'the wallet returned no account');
      return accounts[0];
    },
    async chainId(allowed) {
      const current = Number(await provider.request({ method: 'eth_chainId' }));
      const pick = chainToUse(current, allowed);
      if (pick.ok) return pick.chainId;
      await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${pick.switchTo.toString(16)}` }] }).catch((e: unknown) => Promise.reject(walletError(e, 'wallet-chain')));
      const now = Number(await provider.request({ method: 'eth_chainId' }));
      if (!allowed.includes(now)) throw new ApiError(0, 'wallet-chain', `the wallet stayed on chain ${now}`);
      return now;
    },
    async sign(message, address) {
      return (await provider.request({ method: 'personal_sign', params: [stringToHex(message), address as `0x${string}`] }).catch((e: unknown) => Promise.reject(walletError(e, 'bad-signature')))) as string;
    },
  };
}

export interface SignedIn extends Me {
  token?: string;
}

/** The whole sign-in: nonce → message → signature → verify (sets the session cookie). */
export async function signIn(signer: Signer): Promise<SignedIn> {
  const address = await signer.address();
  const { body: nonce } = await api<NonceAnswer>('POST', '/api/auth/nonce', {});
  const chainId = await signer.chainId(nonce.chainIds);
  const message = buildSiweMessage(nonce, address, chainId, new Date());
  const signature = await signer.sign(message, address);
  const { body } = await api<SignedIn & { balance: number }>('POST', '/api/auth/verify', { message, signature });
  return { address: body.address, balance: body.balance, available: null, currency: body.currency };
}
