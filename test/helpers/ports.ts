import net from 'node:net';

/** A free TCP port on loopback (the kernel picks it; we release it for the caller to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * How much longer than the figure a test names a wait may take: a bound only limits how long a
 * broken test takes to fail, and a machine busy with other work (CI, a CPU hog on every core) takes
 * minutes to boot the appliance that takes seconds on an idle one. No test relies on a wait timing out.
 */
export const WAIT_SCALE = 4;

/** Poll `probe` until it resolves truthy, or give up after `timeoutMs` × WAIT_SCALE (at least 60 s). */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  timeoutMs = Math.max(60_000, timeoutMs * WAIT_SCALE);
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}
