/**
 * Session authentication: the HttpOnly cookie or an `Authorization: Bearer` token. A cookie-carried
 * state change must come from our own origin (SameSite=Strict already blocks most cross-site use;
 * this also covers same-site attackers on sibling subdomains).
 */
import type Koa from 'koa';
import { forbidden, unauthorized } from '../../shared/errors.js';
import type { Session } from '../../shared/sessions.js';
import type { ApiDeps } from '../deps.js';

export interface Authed {
  session: Session;
  token: string;
}

/** The request headers authentication reads. */
export interface AuthHeaders {
  authorization: string | undefined;
  cookie: string | undefined;
  origin: string | undefined;
}

export function sessionToken(h: Pick<AuthHeaders, 'authorization' | 'cookie'>, cookieName: string): { token: string; via: 'cookie' | 'bearer' } | undefined {
  const auth = h.authorization;
  if (auth) {
    const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(auth);
    if (!m) throw unauthorized('invalid-authorization', 'Authorization must be "Bearer <token>"');
    return { token: m[1] as string, via: 'bearer' };
  }
  const cookie = readCookie(h.cookie ?? '', cookieName);
  return cookie ? { token: cookie, via: 'cookie' } : undefined;
}

/** The headers authentication reads, from a Koa request (an empty header counts as absent). */
export const authHeaders = (ctx: Koa.Context): AuthHeaders => ({
  authorization: ctx.get('Authorization') || undefined,
  cookie: ctx.get('Cookie') || undefined,
  origin: ctx.get('Origin') || undefined,
});

/**
 * The token a request carries, refused if it came in a cookie on a state-changing request from a
 * foreign origin. Undefined when there is none.
 */
export function sameOriginToken(config: ApiDeps['config'], method: string, h: AuthHeaders): { token: string; via: 'cookie' | 'bearer' } | undefined {
  const found = sessionToken(h, config.session.cookieName);
  if (found?.via === 'cookie' && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && h.origin && h.origin !== config.publicOrigin) {
    throw forbidden('cross-origin', 'request from a foreign origin refused');
  }
  return found;
}

/** The session a request carries, or the 401/403 refusal (Koa's requireSession and the direct tap handler). */
export async function authenticate(deps: Pick<ApiDeps, 'config' | 'sessions'>, method: string, h: AuthHeaders): Promise<Authed> {
  const found = sameOriginToken(deps.config, method, h);
  if (!found) throw unauthorized('not-signed-in', 'sign in first');
  const session = await deps.sessions.get(found.token);
  if (!session) throw unauthorized('session-expired', 'the session expired or was revoked: sign in again');
  return { session, token: found.token };
}

export function requireSession(deps: Pick<ApiDeps, 'config' | 'sessions'>): Koa.Middleware {
  return async (ctx, next) => {
    ctx.state.auth = await authenticate(deps, ctx.method, authHeaders(ctx));
    await next();
  };
}

function readCookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
