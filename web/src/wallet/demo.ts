/**
 * The demo wallet: a throwaway key in this tab's session storage, for demo money only. Any script
 * on the page could read it and closing the tab loses it; the UI says so. Loaded on demand so the
 * signing code is not part of the first download.
 */
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Signer } from './wallets.js';

const KEY = 'tapstack:demo-wallet-key';

export function demoSigner(): Signer {
  let pk = sessionStorage.getItem(KEY) as `0x${string}` | null;
  if (!pk || !/^0x[0-9a-f]{64}$/i.test(pk)) {
    pk = generatePrivateKey();
    sessionStorage.setItem(KEY, pk);
  }
  const account = privateKeyToAccount(pk);
  return {
    address: async () => account.address,
    chainId: async (allowed) => allowed[0] ?? 1,
    sign: (message) => account.signMessage({ message }),
  };
}
