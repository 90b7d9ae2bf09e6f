/** JSON bodies: parsed with a size cap, validated with zod at the edge. */
import { bodyParser } from '@koa/bodyparser';
import type Koa from 'koa';
import type { z } from 'zod';
import { AppError, badRequest } from '../../shared/errors.js';

/** The parser's settings, also used by the direct tap handler (co-body, as @koa/bodyparser uses it). */
export const JSON_BODY = { limit: '16kb', encoding: 'utf-8', strict: true } as const;

/** What a body the parser could not read becomes: too large, or not JSON. */
export function bodyParseError(err: unknown): AppError {
  if ((err as { status?: number }).status === 413) return new AppError(413, 'body-too-large', `request body is larger than ${JSON_BODY.limit}`);
  return badRequest('invalid-json', 'request body is not valid JSON');
}

export const jsonBody = (): Koa.Middleware =>
  bodyParser({
    enableTypes: ['json'],
    jsonLimit: JSON_BODY.limit,
    encoding: JSON_BODY.encoding,
    onError: (err) => {
      throw bodyParseError(err);
    },
  });

/**
 * Validate `ctx.request.body` against a schema or throw `invalid-body` listing the problems.
 * A body sent in another format was never parsed: refuse it as such (415) rather than report
 * every field as missing.
 */
export function validBody<S extends z.ZodType>(ctx: Koa.Context, schema: S): z.output<S> {
  if (ctx.request.is('json', '+json') === false) {
    throw new AppError(415, 'unsupported-media-type', 'send the request body as application/json');
  }
  return validValue((ctx.request as unknown as { body?: unknown }).body, schema);
}

/** Validate a parsed body against a schema or throw `invalid-body` listing the problems. */
export function validValue<S extends z.ZodType>(body: unknown, schema: S): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    throw badRequest(
      'invalid-body',
      'request body does not match the expected shape',
      { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    );
  }
  return parsed.data;
}
