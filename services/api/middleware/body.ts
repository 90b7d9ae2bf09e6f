/** JSON bodies: parsed with a size cap, validated with zod at the edge. */
import { bodyParser } from '@koa/bodyparser';
import type Koa from 'koa';
import type { z } from 'zod';
import { AppError, badRequest } from '../../shared/errors.js';

const JSON_LIMIT = '16kb';

export const jsonBody = (): Koa.Middleware =>
  bodyParser({
    enableTypes: ['json'],
    jsonLimit: JSON_LIMIT,
    encoding: 'utf-8',
    onError: (err) => {
      if ((err as { status?: number }).status === 413) throw new AppError(413, 'body-too-large', `request body is larger than ${JSON_LIMIT}`);
      throw badRequest('invalid-json', 'request body is not valid JSON');
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
  const body = (ctx.request as unknown as { body?: unknown }).body;
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
