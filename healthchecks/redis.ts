/** `node dist/healthchecks/redis.js`: exit 0 iff Redis (TAPSTACK_REDIS_*) answers PING. */
import { loadConfig } from '../services/shared/config.js';
import { withRuntimeEnv } from './runtime-env.js';
import { redisProbe } from './probes.js';

const r = await redisProbe(loadConfig(withRuntimeEnv(process.env)), 3000);
if (!r.ok) process.stderr.write(`redis: ${r.detail}\n`);
process.exit(r.ok ? 0 : 1);
