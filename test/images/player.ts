/**
 * A player of an appliance running in containers, met only through its published nginx port:
 * HTTPS verifying the appliance's own certificate, a real SIWE signature (test/helpers/wallet.ts),
 * a tap, and `bet:confirmed` over wss:// (the same steps as test/e2e/appliance.test.ts).
 */
import https from 'node:https';
import http from 'node:http';
import { Wallet } from 'ethers';
import { io as connect, type Socket } from 'socket.io-client';
import { waitFor } from '../helpers/ports.js';
import { buildMessage } from '../helpers/wallet.js';

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface Edge {
  /** The published HTTPS port on 127.0.0.1. */
  port: number;
  /** PEM of the appliance's self-signed certificate (for `localhost`). */
  ca: string;
}

export const originOf = (edge: Pick<Edge, 'port'>) => `https://localhost:${edge.port}`;

export function call(edge: Edge, method: string, p: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      { host: 'localhost', port: edge.port, path: p, method, ca: edge.ca, timeout: 10_000, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...opts.headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let body: any = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

/** Sign in with a real EIP-4361 signature; returns the session token. */
export async function signIn(edge: Edge, wallet: Wallet): Promise<string> {
  const nonce = await call(edge, 'POST', '/api/auth/nonce', { body: {} });
  if (nonce.status !== 200) throw new Error(`nonce: ${nonce.status} ${JSON.stringify(nonce.body)}`);
  const message = buildMessage(wallet, { domain: nonce.body.domain, uri: nonce.body.uri, chainId: nonce.body.chainIds?.[0] ?? 1, nonce: nonce.body.nonce, issuedAt: new Date() });
  const r = await call(edge, 'POST', '/api/auth/verify', { body: { message, signature: await wallet.signMessage(message) }, headers: { origin: originOf(edge) } });
  if (r.status !== 200) throw new Error(`sign-in: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}

export interface Tapped {
  betId: string;
  stake: number;
  confirmedState: string;
  balanceAfter: number;
}

/**
 * Open a wss:// connection, tap an open cell, wait for `bet:confirmed` of that bet (or a
 * `bets:sync` listing it committed), and read the balance after it.
 */
export async function tapAndConfirm(edge: Edge, token: string, key: string, stake = 500, sockets: Socket[] = []): Promise<Tapped> {
  const auth = { authorization: `Bearer ${token}` };
  const socket = connect(originOf(edge), { transports: ['websocket'], ca: edge.ca, auth: { token }, reconnection: false });
  sockets.push(socket);
  try {
    const confirmations: any[] = [];
    socket.on('bet:confirmed', (b) => confirmations.push(b));
    // As the web app does: a bets:sync (sent again when realtime's subscription comes back after a
    // Redis restart) that lists the bet as committed confirms it too.
    socket.on('bets:sync', (d: { recent?: any[] }) => confirmations.push(...(d?.recent ?? []).filter((b) => b.state !== 'pending')));
    await waitFor(() => socket.connected, 'wss:// connected through nginx', 20_000, 100);
    // The cell furthest out: on a slow machine a nearer one can lock (TAPSTACK_GRID_LOCK_SECONDS)
    // between reading the grid and the tap arriving; a lock is retried on a fresh grid.
    // A refused quote is not tapped again: the retry waits for the next one.
    let r: Res | undefined;
    const refused = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const { quote, cell } = await waitFor(
        async () => {
          const g = await call(edge, 'GET', '/api/grid');
          if (g.status !== 200 || g.body.quote?.halted || refused.has(g.body.quote.id)) return undefined;
          const open = g.body.quote.cells.filter((x: any) => !x.disabled && x.startMs - Date.now() > 3000);
          const c = open.sort((a: any, b: any) => b.startMs - a.startMs)[0];
          return c && { quote: g.body.quote, cell: c };
        },
        'an open grid',
        60_000,
        500,
      );
      r = await call(edge, 'POST', '/api/bets', { body: { quoteId: quote.id, row: cell.row, col: cell.col, stake }, headers: { ...auth, 'idempotency-key': `${key}-${attempt}` } });
      if (r.status === 202 || attempt >= 5 || !['cell-locked', 'quote-expired', 'quote-stale'].includes(r.body?.error?.code)) break;
      refused.add(quote.id);
    }
    if (r.status !== 202) throw new Error(`tap: ${r.status} ${JSON.stringify(r.body)}`);
    const confirmed = await waitFor(() => confirmations.find((b) => b.id === r.body.bet.id), 'bet:confirmed (or bets:sync) over wss://', 30_000, 100);
    const me = await call(edge, 'GET', '/api/me', { headers: auth });
    return { betId: r.body.bet.id, stake, confirmedState: confirmed.state, balanceAfter: me.body.balance };
  } finally {
    socket.disconnect();
  }
}

export async function balanceOf(edge: Edge, token: string): Promise<number> {
  const me = await call(edge, 'GET', '/api/me', { headers: { authorization: `Bearer ${token}` } });
  if (me.status !== 200) throw new Error(`/api/me: ${me.status} ${JSON.stringify(me.body)}`);
  return me.body.balance as number;
}
