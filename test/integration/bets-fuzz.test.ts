/**
 * Property tests of bet placement: whatever a signed-in client sends to POST /api/bets, the answer
 * is below 500, every refusal is the error envelope with a code, and money only moves for a 202.
 */
import test from 'ava';
import fc from 'fast-check';
import { Wallet } from 'ethers';
import { adminMovement } from '../../services/shared/accounts.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { closeBreaker, publishTestQuote } from '../helpers/market-fixture.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { signIn } from '../helpers/wallet.js';
import type { Quote } from '../../services/shared/market/quote-store.js';
import { betKeys } from '../../services/shared/redis-names.js';

let redis: TestRedis;
let api: TestApi;
let auth: Record<string, string>;
let address: string;
let quote: Quote;

test.before(async () => {
  redis = await startRedis();
  api = await startApi(redis, { TAPSTACK_BREAKER_STALE_SECONDS: '3600', TAPSTACK_BET_RATE_PER_SECOND: '1000000', TAPSTACK_GRID_COLUMN_SECONDS: '600' });
  await closeBreaker(api.redis, api.config);
  quote = await publishTestQuote(api.redis, api.config);
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  address = wallet.address;
  auth = { authorization: `Bearer ${await signIn(api.base, wallet)}` };
  adminMovement(api.db, { address, direction: 'credit', amount: 1_000_000, ref: 'fuzz-funds' }, Date.now());
  // No writer runs here: the cache is set as the writer would, so placements reach the reservation.
  await api.redis.set(betKeys.balance(address), '1000000');
});

test.after.always(async () => {
  await api?.stop();
  await redis?.stop();
});

async function place(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.base}/api/bets`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body });
  return { status: res.status, text: await res.text() };
}

function sane(r: { status: number; text: string }, what: string): void {
  if (r.status >= 500 && r.status !== 503) throw new Error(`server error for ${what}: ${r.status} ${r.text}`);
  if (r.status >= 400) {
    const body = JSON.parse(r.text) as { error?: { code?: unknown } };
    if (typeof body.error?.code !== 'string') throw new Error(`refusal without a code for ${what}: ${r.text}`);
  }
}

const jsonValue = fc.jsonValue({ maxDepth: 3 });

test('arbitrary JSON bodies never produce a 5xx', async (t) => {
  await fc.assert(
    fc.asyncProperty(jsonValue, async (v) => {
      sane(await place(JSON.stringify(v)), JSON.stringify(v));
    }),
    { numRuns: 150 },
  );
  t.pass();
});

test('near-valid bodies (every field perturbed) never produce a 5xx, and money moves only on 202', async (t) => {
  // A fresh quote valid for an hour, and only cells that cannot lock while the property runs: on a
  // slow machine the 300 placements take long enough for near columns to lock or a 60 s quote to end.
  quote = await publishTestQuote(api.redis, api.config, { expiresAt: Date.now() + 3_600_000 });
  const horizon = Date.now() + (api.config.grid.lockSeconds + 600) * 1000;
  const cells = quote.cells.filter((c) => !c.disabled && c.startMs > horizon);
  t.true(cells.length > 0, 'the test grid has cells beyond the lock horizon');
  const { stakeMin, stakeMax } = api.config.betting;
  const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 10 }, { arbitrary: jsonValue, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 });
  const body = fc.record({
    quoteId: field(fc.oneof({ arbitrary: fc.constant(quote.id), weight: 8 }, fc.constantFrom('q0', 'q' + '9'.repeat(20), ''))),
    row: field(fc.oneof({ arbitrary: fc.constantFrom(...cells.map((c) => c.row)), weight: 8 }, fc.integer(), fc.double())),
    col: field(fc.oneof({ arbitrary: fc.constantFrom(...cells.map((c) => c.col)), weight: 8 }, fc.integer({ min: -5, max: 50 }))),
    stake: field(fc.oneof({ arbitrary: fc.integer({ min: stakeMin, max: Math.min(stakeMax, stakeMin + 1000) }), weight: 8 }, fc.integer({ min: -10, max: 20_000 }), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER), fc.bigInt().map(String))),
  });
  let accepted = 0;
  const codes = new Map<string, number>();
  let spent = 0;
  await fc.assert(
    fc.asyncProperty(body, fc.oneof(fc.constant(null), fc.constant(null), fc.stringMatching(/^[A-Za-z0-9]{8,24}$/), fc.string({ maxLength: 80 })), async (b, key) => {
      const headers: Record<string, string> = key === null ? {} : { 'idempotency-key': key.replace(/[^\x20-\x7e]/g, '') };
      const r = await place(JSON.stringify(b), headers);
      sane(r, JSON.stringify(b));
      const outcome = r.status === 202 ? '202' : (JSON.parse(r.text) as { error: { code: string } }).error.code;
      codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
      if (r.status === 202) {
        const res = JSON.parse(r.text) as { bet: { stake: number }; available?: number };
        if (res.available !== undefined) {
          accepted += 1;
          spent += res.bet.stake;
        }
      }
    }),
    { numRuns: 300 },
  );
  t.log([...codes]);
  t.true(accepted > 10, `only ${accepted} placements were accepted: the property barely reached the reservation`);
  t.is(Number(await api.redis.get(betKeys.balance(address))), 1_000_000 - spent);
});
