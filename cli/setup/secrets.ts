/**
 * Step (b): the Redis password. Generated once into `<data>/secrets/redis-password` (32 random
 * bytes, hex, mode 600, crash-safe) unless the operator provides one through
 * TAPSTACK_REDIS_PASSWORD or TAPSTACK_REDIS_PASSWORD_FILE. Its value is never printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../../services/shared/atomic-file.js';

export interface RedisSecret {
  status: 'created' | 'kept' | 'ok';
  /** The password file the services should read (empty when given inline). */
  file: string;
  password: string;
  detail: string;
}

export function redisSecretFile(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'redis-password');
}

/**
 * `env` is the raw environment (to tell "provided by the operator" from "ours, handed back through
 * cli.env by bin/tapstack"); `configured` the password the config already loaded.
 */
export function ensureRedisSecret(dataDir: string, env: NodeJS.ProcessEnv, configured: string): RedisSecret {
  const ours = redisSecretFile(dataDir);
  const inline = env.TAPSTACK_REDIS_PASSWORD ?? '';
  const fromFile = env.TAPSTACK_REDIS_PASSWORD_FILE ?? '';
  if (inline !== '') return { status: 'ok', file: '', password: configured, detail: 'provided by TAPSTACK_REDIS_PASSWORD' };
  if (fromFile !== '' && path.resolve(fromFile) !== ours) {
    return { status: 'ok', file: path.resolve(fromFile), password: configured, detail: `provided by TAPSTACK_REDIS_PASSWORD_FILE (${path.resolve(fromFile)})` };
  }
  try {
    const existing = fs.readFileSync(ours, 'utf8').trim();
    if (existing !== '') {
      fs.chmodSync(ours, 0o600);
      return { status: 'kept', file: ours, password: existing, detail: ours };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(ours), { recursive: true, mode: 0o700 });
  const password = randomBytes(32).toString('hex');
  writeFileAtomic(ours, `${password}\n`, 0o600);
  return { status: 'created', file: ours, password, detail: ours };
}
