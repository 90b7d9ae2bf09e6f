/**
 * What `tapstack setup` leaves for tools started outside the entrypoint's environment (the AIO
 * image's HEALTHCHECK, `docker exec ... tapstack`): `$TAPSTACK_RUN_DIR/cli.env` names the Redis
 * URL and password file it generated. Settings given explicitly win.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const KEYS = ['TAPSTACK_REDIS_URL', 'TAPSTACK_REDIS_PASSWORD_FILE'] as const;

export function withRuntimeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const runDir = env.TAPSTACK_RUN_DIR ?? path.join(env.TAPSTACK_DATA_DIR ?? './data', 'run');
  let text: string;
  try {
    text = readFileSync(path.join(runDir, 'cli.env'), 'utf8');
  } catch {
    return env;
  }
  const out = { ...env };
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    const key = line.slice(0, i) as (typeof KEYS)[number];
    if (i <= 0 || !KEYS.includes(key)) continue;
    if (key === 'TAPSTACK_REDIS_PASSWORD_FILE' && (env.TAPSTACK_REDIS_PASSWORD || env.TAPSTACK_REDIS_PASSWORD_FILE)) continue;
    if (!out[key]) out[key] = line.slice(i + 1);
  }
  return out;
}
