/** `node dist/healthchecks/redis.js`: exit 0 iff Redis (TAPSTACK_REDIS_*) answers PING. */
import { loadConfig } from '../services/shared/config.js';
import { redisProbe } from './probes.js';

const r = await redisProbe(loadConfig(process.env), 3000);
if (!r.ok) process.stderr.write(`redis: ${r.detail}\n`);
process.exit(r.ok ? 0 : 1);
