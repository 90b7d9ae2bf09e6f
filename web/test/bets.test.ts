import { describe, expect, it } from 'vitest';
import { acceptOptimistic, addOptimistic, applyBet, applyBets, betsByCell, emptyBook, listBets, refuseOptimistic } from '../src/state/bets.js';
import type { BetState, PublicBet } from '../src/lib/types.js';

const base: PublicBet = { id: 'b1', state: 'pending', lowCents: 100, highCents: 200, startMs: 10_000, endMs: 15_000, stake: 500, multiplierCents: 411, payout: 0, reason: null, placedAt: 1000, committedAt: null, settledAt: null };
const at = (state: BetState, extra: Partial<PublicBet> = {}): PublicBet => ({ ...base, state, ...extra });

describe('bet state machine', () => {
  it('walks pending → open → won', () => {
    let book = applyBet(emptyBook(), at('pending'));
    expect(book.byId.get('b1')?.state).toBe('pending');
    book = applyBet(book, at('open', { committedAt: 1100 }));
    expect(book.byId.get('b1')?.state).toBe('open');
    book = applyBet(book, at('won', { payout: 2055, reason: 'touched', settledAt: 16_000 }));
    expect(book.byId.get('b1')).toMatchObject({ state: 'won', payout: 2055, reason: 'touched' });
  });
  it('ends in rejected, lost or void', () => {
    for (const end of ['rejected', 'lost', 'void'] as const) expect(applyBet(applyBet(emptyBook(), at('pending')), at(end)).byId.get('b1')?.state).toBe(end);
  });
  it('ignores duplicates: the same event twice changes nothing (same book object)', () => {
    const book = applyBets(emptyBook(), [at('pending'), at('open')]);
    expect(applyBet(book, at('open'))).toBe(book);
    expect(listBets(applyBets(book, [at('open'), at('open'), at('pending')]))).toHaveLength(1);
  });
  it('ignores older events arriving late (out of order)', () => {
    const book = applyBets(emptyBook(), [at('won', { payout: 2055 }), at('open'), at('pending')]);
    expect(book.byId.get('b1')).toMatchObject({ state: 'won', payout: 2055 });
    // settled before confirmed: settled stays
    expect(applyBets(emptyBook(), [at('lost'), at('open')]).byId.get('b1')?.state).toBe('lost');
  });
  it('a final state never changes to another final state', () => {
    expect(applyBets(emptyBook(), [at('won'), at('void')]).byId.get('b1')?.state).toBe('won');
    expect(applyBets(emptyBook(), [at('rejected'), at('open')]).byId.get('b1')?.state).toBe('rejected');
  });
  it('any permutation of the events ends in the most advanced state, with one entry', () => {
    const events = [at('pending'), at('open'), at('won', { payout: 2055 }), at('open'), at('pending')];
    const perms = (xs: PublicBet[]): PublicBet[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
    for (const p of perms(events)) {
      const book = applyBets(emptyBook(), p);
      expect(book.byId.size).toBe(1);
      expect(book.byId.get('b1')?.state).toBe('won');
    }
  });
});

describe('optimistic taps', () => {
  const tap = { lowCents: 100, highCents: 200, startMs: 10_000, endMs: 15_000, stake: 500, multiplierCents: 411, placedAt: 1000 };
  it('shows pending at once, then becomes the server bet on 202', () => {
    let book = addOptimistic(emptyBook(), 'k1', tap, 0.2);
    expect(listBets(book)).toMatchObject([{ id: 'local:k1', state: 'pending', sending: true }]);
    book = acceptOptimistic(book, 'k1', at('pending'));
    expect(listBets(book)).toMatchObject([{ id: 'b1', state: 'pending', sending: false, localKey: 'k1', probability: 0.2 }]);
    expect(book.keys.get('k1')).toBe('b1');
  });
  it('the confirmation may beat the 202: one entry, the advanced state kept', () => {
    let book = addOptimistic(emptyBook(), 'k1', tap);
    book = applyBet(book, at('open'));
    book = acceptOptimistic(book, 'k1', at('pending'));
    const list = listBets(book);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'b1', state: 'open', localKey: 'k1' });
  });
  it('a retried tap answered as an idempotent replay stays one entry', () => {
    let book = addOptimistic(emptyBook(), 'k1', tap);
    book = acceptOptimistic(book, 'k1', at('pending'));
    book = acceptOptimistic(book, 'k1', at('open'));
    expect(listBets(book)).toHaveLength(1);
    expect(book.byId.get('b1')?.state).toBe('open');
  });
  it('a refusal turns the tile into a rejected entry with the code', () => {
    const book = refuseOptimistic(addOptimistic(emptyBook(), 'k1', tap), 'k1', 'insufficient-funds');
    expect(listBets(book)).toMatchObject([{ state: 'rejected', refusedCode: 'insufficient-funds' }]);
  });
  it('groups bets by cell for the tiles', () => {
    const book = applyBets(emptyBook(), [at('open'), at('open', { id: 'b2' }), at('open', { id: 'b3', startMs: 15_000, endMs: 20_000 })]);
    expect(betsByCell(book).get('100:10000')).toHaveLength(2);
  });
  it('lists newest first', () => {
    const book = applyBets(emptyBook(), [at('open', { id: 'a', placedAt: 1 }), at('open', { id: 'c', placedAt: 3 }), at('open', { id: 'b', placedAt: 2 })]);
    expect(listBets(book).map((b) => b.id)).toEqual(['c', 'b', 'a']);
  });
});
