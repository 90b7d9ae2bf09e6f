import test from 'ava';
import { withSessionCache, type Session, type SessionStore } from '../../services/shared/sessions.js';

/** A store that counts reads, standing in for Redis in this pure unit test. */
function countingStore() {
  const sessions = new Map<string, Session>([['tok', { address: '0xabc', createdAt: 1 }]]);
  let reads = 0;
  const store: SessionStore = {
    create: async () => 'new',
    get: async (t) => (reads++, sessions.get(t)),
    destroy: async (t) => void sessions.delete(t),
  };
  return { store, sessions, reads: () => reads };
}

test('a session is read from the store once per ttl, then again', async (t) => {
  const inner = countingStore();
  let now = 0;
  const cached = withSessionCache(inner.store, { ttlMs: 1000, max: 10, now: () => now });
  t.deepEqual(await cached.get('tok'), { address: '0xabc', createdAt: 1 });
  await cached.get('tok');
  t.is(inner.reads(), 1);
  now = 1001;
  await cached.get('tok');
  t.is(inner.reads(), 2);
});

test('logout through the cache revokes at once; unknown tokens are never cached', async (t) => {
  const inner = countingStore();
  const cached = withSessionCache(inner.store, { ttlMs: 60_000, max: 10 });
  t.truthy(await cached.get('tok'));
  await cached.destroy('tok');
  t.is(await cached.get('tok'), undefined);
  t.is(await cached.get('nope'), undefined);
  t.is(await cached.get('nope'), undefined);
  t.is(inner.reads(), 4, "after logout, and for unknown tokens, every read goes to the store");
});

test('the cache stays bounded', async (t) => {
  const inner = countingStore();
  for (let i = 0; i < 50; i++) inner.sessions.set(`t${i}`, { address: `a${i}`, createdAt: i });
  const cached = withSessionCache(inner.store, { ttlMs: 60_000, max: 10 });
  for (let i = 0; i < 50; i++) await cached.get(`t${i}`);
  const before = inner.reads();
  await cached.get('t0'); // evicted long ago: read again
  await cached.get('t49'); // recent: cached
  t.is(inner.reads(), before + 1);
});
