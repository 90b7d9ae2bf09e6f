/** The signed-in player's own account. */
import Router from '@koa/router';
import { archivedHistory } from '../../shared/archived-history.js';
import { notFound } from '../../shared/errors.js';
import { findUser } from '../../shared/repos/users.repo.js';
import type { Reserver } from '../../shared/betting/reserve.js';
import type { ApiDeps } from '../deps.js';
import { requireSession, type Authed } from '../middleware/session.js';

export function meRoutes(deps: ApiDeps & { reserver: Reserver }): Router {
  const router = new Router({ prefix: '/api/me' });
  router.get('/', requireSession(deps), async (ctx) => {
    const { session } = ctx.state.auth as Authed;
    const user = findUser(deps.db, session.address);
    if (!user) throw notFound('unknown-account', 'no account for this session');
    ctx.set('Cache-Control', 'no-store');
    // balance: the book (SQLite); available: what taps may spend now (balance minus stakes queued).
    const available = await deps.reserver.available(user.address).catch(() => undefined);
    // Not loaded (first visit, or refreshed after an admin movement): ask the writer for it.
    if (available === undefined) void deps.reserver.requestLoad(user.address).catch(() => undefined);
    ctx.body = { address: user.address, balance: user.balance, available: available ?? null, currency: deps.config.currency, createdAt: new Date(user.createdAt).toISOString(), history: archivedHistory(deps.db, deps.config.archive.dir) };
  });
  return router;
}
