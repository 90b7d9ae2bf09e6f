/// <reference lib="dom" />
/**
 * Debian's chromium driven by playwright-core (TOOLING.md: no browser download here), and a test
 * wallet for the page: an EIP-1193 provider announced over EIP-6963, whose signatures come from a
 * key held by this test process (through page.exposeFunction), never by the page.
 */
import { Wallet, getBytes, toUtf8String } from 'ethers';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.TAPSTACK_TEST_CHROMIUM || '/usr/bin/chromium';

export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  // playwright's launch() gives every browser a fresh, empty profile directory of its own (it
  // refuses --user-data-dir) and removes it on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // nginx listens on IPv4 loopback only.
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
    },
  };
}

/** What a page reported that a player would never want: console errors, CSP violations, crashes. */
export interface PageProblems {
  consoleErrors: string[];
  cspViolations: string[];
  pageErrors: string[];
}

export async function newPage(ctx: BrowserContext, problems: PageProblems): Promise<Page> {
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => problems.pageErrors.push(e.message));
  await page.exposeFunction('__tapstackCsp', (v: string) => problems.cspViolations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __tapstackCsp(v: string): void }).__tapstackCsp(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

export interface TestWallet {
  wallet: Wallet;
  /** Every JSON-RPC method the page asked for, in order. */
  calls: string[];
  chainId(): number;
}

/**
 * Inject a wallet named "Test Wallet" into every page of `ctx`, starting on `startChainId` (so a
 * page that needs another chain must ask to switch).
 */
export async function injectWallet(ctx: BrowserContext, startChainId = 5): Promise<TestWallet> {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const calls: string[] = [];
  let chainId = startChainId;
  await ctx.exposeFunction('__tapstackWallet', async (method: string, params: unknown[]) => {
    calls.push(method);
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [wallet.address];
      case 'eth_chainId':
        return `0x${chainId.toString(16)}`;
      case 'wallet_switchEthereumChain':
        chainId = Number((params[0] as { chainId: string }).chainId);
        return null;
      case 'personal_sign': {
        const data = params[0] as string;
        const text = data.startsWith('0x') ? toUtf8String(getBytes(data)) : data;
        return wallet.signMessage(text);
      }
      default:
        throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
    }
  });
  await ctx.addInitScript(() => {
    const w = window as unknown as { __tapstackWallet(m: string, p: unknown[]): Promise<unknown> };
    const listeners: Record<string, ((...a: unknown[]) => void)[]> = {};
    const provider = {
      request: ({ method, params }: { method: string; params?: unknown[] }) => w.__tapstackWallet(method, params ?? []),
      on: (ev: string, fn: (...a: unknown[]) => void) => {
        (listeners[ev] ??= []).push(fn);
      },
      removeListener: (ev: string, fn: (...a: unknown[]) => void) => {
        listeners[ev] = (listeners[ev] ?? []).filter((f) => f !== fn);
      },
    };
    const info = { uuid: '6d3c0d1e-7f7e-4a38-9c55-3e2b1f0a9d11', name: 'Test Wallet', rdns: 'test.tapstack', icon: 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="%2321d07a"/></svg>' };
    const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
    window.addEventListener('eip6963:requestProvider', announce);
    announce();
  });
  return { wallet, calls, chainId: () => chainId };
}
