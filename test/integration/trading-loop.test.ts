/**
 * The whole trading loop with every process real: ingest (synthetic feed) → quoter → API → writer
 * → resolver → realtime. A player signs in, reads the grid, taps, hears `bet:confirmed` and then
 * `bet:settled` on their socket, and the books balance.
 */
import test from 'ava';
import { Wallet } from 'ethers';
import { io as connect, type Socket } from 'socket.io-client';
import { openDb } from '../../services/shared/db/database.js';
import { checkIntegrity } from '../../services/shared/integrity.js';
import { queryLedger } from '../../services/shared/repos/ledger.repo.js';
import { get, post } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { tempDir, testEnv } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startProcess, type Proc } from '../helpers/process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { signIn } from '../helpers/wallet.js';

let redis: TestRedis;
let dataDir: string;
let base = '';
let realtimeUrl = '';
const procs: Proc[] = [];
let socket: Socket | undefined;

test.before(async () => {
  redis = await startRedis();
  dataDir = tempDir();
  const ports = { api: await freePort(), rt: await freePort(), ingest: await freePort(), quoter: await freePort(), writer: await freePort(), resolver: await freePort(), scheduler: await freePort() };
  const env = testEnv({
    dataDir,
    redis,
    extra: {
      TAPSTACK_PUBLIC_ORIGIN: 'https://tapstack.test',
      TAPSTACK_DEMO_MODE: 'true',
      TAPSTACK_DEMO_GRANT: '100',
      TAPSTACK_SYNTHETIC_TICK_MS: '50',
      TAPSTACK_SYNTHETIC_SIGMA_ANNUAL: '3',
      TAPSTACK_BREAKER_STALE_SECONDS: '1',
      TAPSTACK_BREAKER_RECOVERY_SECONDS: '1',
      TAPSTACK_GRID_COLUMN_SECONDS: '2',
      TAPSTACK_GRID_LOCK_SECONDS: '1',
      TAPSTACK_GRID_ROWS: '6',
      TAPSTACK_GRID_ROW_HEIGHT: '5',
      TAPSTACK_QUOTE_HZ: '4',
      TAPSTACK_RESOLVER_GRACE_MS: '300',
      TAPSTACK_RESOLVER_INTERVAL_MS: '200',
      TAPSTACK_HTTP_PORT: String(ports.api),
      TAPSTACK_REALTIME_PORT: String(ports.rt),
      TAPSTACK_INGEST_PORT: String(ports.ingest),
      TAPSTACK_QUOTER_PORT: String(ports.quoter),
      TAPSTACK_WRITER_PORT: String(ports.writer),
      TAPSTACK_RESOLVER_PORT: String(ports.resolver),
    },
  });
  const m = await runCli(['migrate'], env);
  if (m.code !== 0) throw new Error(m.stderr);
  for (const s of ['ingest', 'quoter', 'writer', 'resolver', 'realtime', 'api']) procs.push(startProcess(`services/${s}/main.js`, env));
  base = `http://127.0.0.1:${ports.api}`;
  realtimeUrl = `http://127.0.0.1:${ports.rt}`;
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'api ready', 20_000);
});

test.after.always(async () => {
  socket?.disconnect();
  await Promise.all(procs.map((p) => p.stop('SIGTERM')));
  await redis?.stop();
});

test('sign in, read the grid, tap, get confirmed and settled over the socket; the books balance', async (t) => {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const token = await signIn(base, wallet, { origin: 'https://tapstack.test' });
  const auth = { authorization: `Bearer ${token}` };
  socket = connect(realtimeUrl, { transports: ['websocket'], auth: { token } });
  const events: { event: string; data: any; at: number }[] = [];
  for (const e of ['bet:confirmed', 'bet:rejected', 'bet:settled']) socket.on(e, (data) => events.push({ event: e, data, at: Date.now() }));
  await waitFor(() => socket?.connected, 'socket connected');

  // Wait for the breaker to close and an unhalted grid with a tappable cell.
  const { quote, cell } = await waitFor(async () => {
    const g = await get(base, '/api/grid');
    if (g.status !== 200 || g.body.quote.halted) return undefined;
    const c = g.body.quote.cells.find((x: any) => !x.disabled && !x.locked && x.startMs - Date.now() > 1500);
    return c && { quote: g.body.quote, cell: c };
  }, 'an open grid', 30_000);

  const tapAt = Date.now();
  const r = await post(base, '/api/bets', { quoteId: quote.id, row: cell.row, col: cell.col, stake: 1_000 }, auth);
  t.is(r.status, 202, JSON.stringify(r.body));
  const id = r.body.bet.id as string;
  const confirmed = await waitFor(() => events.find((e) => e.event === 'bet:confirmed' && e.data.id === id), 'bet:confirmed over the socket');
  t.is(confirmed.data.state, 'open');
  t.log(`tap-to-confirmation ${confirmed.at - tapAt} ms`);

  const settled = await waitFor(() => events.find((e) => e.event === 'bet:settled' && e.data.id === id), 'bet:settled over the socket', 30_000);
  t.true(['won', 'lost', 'void'].includes(settled.data.state));
  const expectedPayout = settled.data.state === 'won' ? Math.floor((1_000 * cell.multiplierCents) / 100) : settled.data.state === 'void' ? 1_000 : 0;
  t.is(settled.data.payout, expectedPayout);
  const me = await get(base, '/api/me', auth);
  t.is(me.body.balance, 10_000 - 1_000 + expectedPayout);
  const view = await get(base, `/api/bets/${id}`, auth);
  t.is(view.body.bet.state, settled.data.state);

  const db = openDb(`${dataDir}/tapstack.db`, { readonly: true });
  t.teardown(() => db.close());
  const kinds = queryLedger(db, { address: wallet.address, limit: 10 }).map((e) => e.kind);
  t.deepEqual(kinds.slice(0, 2), ['demo-grant', 'bet-stake']);
  t.true(checkIntegrity(db).ok);
});
