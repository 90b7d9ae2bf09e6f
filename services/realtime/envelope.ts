/**
 * The one acknowledgement envelope for socket.io events: `{ok: true, data}` or
 * `{ok: false, error: {code, message}}`. Validation, try/catch and logging are written here once.
 */
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export type Ack = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

export function handle<S extends z.ZodType>(
  socket: Socket,
  log: Logger,
  event: string,
  schema: S,
  fn: (payload: z.output<S>) => unknown | Promise<unknown>,
): void {
  socket.on(event, async (...args: unknown[]) => {
    // The ack callback, if any, is the last argument; clients may omit the payload.
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as (a: Ack) => void) : undefined;
    const payload = ack ? (args.length > 1 ? args[0] : undefined) : args[0];
    let reply: Ack;
    try {
      const parsed = schema.safeParse(payload ?? {});
      if (!parsed.success) throw new AppError(400, 'invalid-payload', parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
      reply = { ok: true, data: await fn(parsed.data) };
    } catch (err) {
      if (err instanceof AppError && err.expose) reply = { ok: false, error: { code: err.code, message: err.message } };
      else {
        log.error({ err, event }, 'socket handler failed');
        reply = { ok: false, error: { code: 'internal', message: 'internal error' } };
      }
    }
    ack?.(reply);
  });
}
