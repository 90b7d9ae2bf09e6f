/**
 * Putting commands on the writer's queue from processes that must keep working while Redis is at
 * its memory cap: settlements (the resolver) and admin movements. The script runs with
 * `allow-oom`; taps (the only source of growth) are refused by the API before the cap, so these
 * small entries always fit in the headroom, and the writer's commits shrink Redis again.
 */
import type { ChainableCommander } from 'ioredis';
import type { Redis } from '../redis.js';
import { WRITER_STREAM } from '../redis-names.js';
import { encodeCommand, type WriterCommand } from './commands.js';

const ENQUEUE = `#!lua flags=allow-oom
return redis.call('XADD', KEYS[1], '*', 'c', ARGV[1])`;

type Enqueue = (stream: string, command: string) => Promise<string>;

/** The enqueue helpers of a connection; the script is defined on it once, however often asked (sign-ins). */
export function createQueue(redis: Redis) {
  if (!('tapstackEnqueue' in redis)) redis.defineCommand('tapstackEnqueue', { numberOfKeys: 1, lua: ENQUEUE });
  return {
    /** Queue one command; resolves to its stream id. */
    enqueue: (c: WriterCommand): Promise<string> => (redis as unknown as { tapstackEnqueue: Enqueue }).tapstackEnqueue(WRITER_STREAM, encodeCommand(c)),
    /** Add the enqueue of `c` to a pipeline of the same connection. */
    inPipeline: (pipe: ChainableCommander, c: WriterCommand): void => {
      (pipe as unknown as { tapstackEnqueue: (s: string, c: string) => unknown }).tapstackEnqueue(WRITER_STREAM, encodeCommand(c));
    },
  };
}
