/** JSON bodies: parsed with a size cap, validated with zod at the edge. */
import { bodyParser } from '@koa/bodyparser';
import type Koa from 'koa';
import type { z } from 'zod';
import { badRequest } from '../../shared/errors.js';

export const jsonBody = (): Koa.Middleware =>
  bodyParser({
    enableTypes: ['json'],
    jsonLimit: '16kb',
    encoding: 'utf-8',
    onError: (err) => {
      throw badRequest((err as { status?: number }).status === 413 ? 'body-too-large' : 'invalid-json', 'request body is not valid JSON (or too large)');
    },
  });

/** Validate `ctx.request.body` against a schema or throw `invalid-body` listing the problems. */
export function validBody<S extends z.ZodType>(ctx: Koa.Context, schema: S): z.output<S> {
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
