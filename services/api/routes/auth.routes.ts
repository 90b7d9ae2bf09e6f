/** Sign-In with Ethereum: nonce, verify (creates the session), logout. */
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { demoGrantRequest, onSignIn } from '../../shared/accounts.js';
import { awaitMovement, enqueueMovement } from '../../shared/betting/movements.js';
import { AppError } from '../../shared/errors.js';
import type { Reserver } from '../../shared/betting/reserve.js';
import type { ApiDeps } from '../deps.js';
import type { AuthLimiter } from '../auth/rate-limit.js';
import type { NonceStore } from '../auth/nonces.js';
import { verifySiwe } from '../auth/siwe-verify.js';
import { validBody } from '../middleware/body.js';
import { authHeaders, sameOriginToken } from '../middleware/session.js';

const VerifyBody = z.object({
  message: z.string().min(1).max(4096),
  signature: z.string().min(1).max(200),
});

const DEMO_GRANT_WAIT_MS = 3000;

export function authRoutes(deps: ApiDeps & { nonces: NonceStore; limiter: AuthLimiter; reserver: Reserver }): Router {
  const { config, metrics } = deps;
  const router = new Router({ prefix: '/api/auth' });
  const cookie = (value: string, maxAge: number) =>
    `${config.session.cookieName}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Strict`;

  router.post('/nonce', async (ctx) => {
    await deps.limiter.hitIp(ctx.ip);
    const nonce = await deps.nonces.issue();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { nonce, expiresInSeconds: config.siwe.nonceTtlSeconds, domain: config.siwe.domain, uri: config.siwe.origin, chainIds: config.siwe.chainIds };
  });

  router.post('/verify', async (ctx: Koa.Context) => {
    try {
      await deps.limiter.hitIp(ctx.ip);
      const body = validBody(ctx, VerifyBody);
      const address = await verifySiwe(
        { config, nonces: deps.nonces, now: deps.now, afterSignature: (a) => deps.limiter.hitAddress(a) },
        body.message,
        body.signature,
      );
      const now = deps.now();
      const { user, created, grantDue } = onSignIn(deps.db, address, config.demo, now);
      let balance = user.balance;
      let granted = 0;
      if (grantDue) {
        // The writer commits the grant (it alone moves money); wait briefly so the first screen
        // shows it. A slow writer only delays it: the grant stays queued (idempotent on its ref).
        const result = await awaitMovement(deps.redis, await enqueueMovement(deps.redis, demoGrantRequest(address, config.demo.grant), now), DEMO_GRANT_WAIT_MS).catch(() => undefined);
        if (result?.ok) {
          balance = result.balance;
          if (result.applied) granted = result.amount;
        }
      }
      if (granted) metrics.ledgerMovements.inc({ kind: 'demo-grant' });
      const token = await deps.sessions.create(address, now);
      // Warm the available-balance cache so the first tap does not wait for it.
      void deps.reserver.requestLoad(address).catch(() => undefined);
      metrics.authOutcomes.inc({ outcome: 'ok' });
      ctx.state.log.info({ address, created, granted }, 'signed in');
      ctx.set('Set-Cookie', cookie(token, config.session.ttlSeconds));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        address,
        balance,
        currency: config.currency,
        token,
        expiresInSeconds: config.session.ttlSeconds,
      };
    } catch (err) {
      metrics.authOutcomes.inc({ outcome: err instanceof AppError ? err.code : 'internal' });
      if (err instanceof AppError) ctx.state.log.info({ code: err.code }, 'sign-in refused');
      throw err;
    }
  });

  router.post('/logout', async (ctx) => {
    const found = sameOriginToken(config, ctx.method, authHeaders(ctx));
    if (found) await deps.sessions.destroy(found.token);
    ctx.set('Set-Cookie', cookie('', 0));
    ctx.status = 204;
  });

  return router;
}
