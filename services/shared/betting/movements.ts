/**
 * Asking the writer to move money that is not a bet (admin credit/debit, demo grant): the command
 * goes on the writer's queue, the writer commits it in order with everything else and answers on
 * `betKeys.moveResult(id)`. Waiting is polling a list (no blocking connection needed), bounded by
 * a timeout; a timeout does not mean "not applied": the movement stays queued and is idempotent
 * on its ref, so asking again with the same ref tells the outcome.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from '../redis.js';
import { AppError } from '../errors.js';
import type { MoveCommand, MoveResult } from './commands.js';
import { createQueue } from './queue.js';
import { betKeys } from '../redis-names.js';

export type MoveRequest = Omit<MoveCommand, 't' | 'id' | 'requestedAt'>;

/** Queue a movement; resolves to its request id. */
export async function enqueueMovement(redis: Redis, m: MoveRequest, now: number): Promise<string> {
  const id = randomUUID();
  const cmd: MoveCommand = { t: 'move', id, requestedAt: now, ...m };
  await createQueue(redis).enqueue(cmd);
  return id;
}

/** Wait for the writer's answer to request `id`; undefined on timeout. */
export async function awaitMovement(redis: Redis, id: string, timeoutMs: number, pollMs = 20): Promise<MoveResult | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const raw = await redis.lpop(betKeys.moveResult(id));
    if (raw) return JSON.parse(raw) as MoveResult;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** A refused movement as an AppError with the writer's code. */
export function movementError(r: Extract<MoveResult, { ok: false }>): AppError {
  const status = r.code === 'insufficient-funds' || r.code === 'ref-conflict' ? 409 : r.code === 'unknown-account' ? 404 : 400;
  return new AppError(status, r.code, r.message, r.details);
}
