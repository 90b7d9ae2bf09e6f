/** Sign-in rate limits in Redis (fixed one-minute windows), per client IP and per wallet address. */
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '../../shared/redis.js';
import { authKeys } from '../../shared/redis-names.js';
import { AppError, tooMany } from '../../shared/errors.js';

export interface AuthLimiter {
  hitIp(ip: string): Promise<void>;
  hitAddress(address: string): Promise<void>;
}

export function createAuthLimiter(redis: Redis, limits: { ipPerMinute: number; addressPerMinute: number }): AuthLimiter {
  const byIp = new RateLimiterRedis({ storeClient: redis, keyPrefix: authKeys.rateLimitByIp, points: limits.ipPerMinute, duration: 60 });
  const byAddress = new RateLimiterRedis({ storeClient: redis, keyPrefix: authKeys.rateLimitByAddress, points: limits.addressPerMinute, duration: 60 });
  const hit = async (limiter: RateLimiterRedis, key: string, what: string) => {
    try {
      await limiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw tooMany('rate-limited', `too many sign-in attempts for this ${what}; retry later`, Math.ceil(err.msBeforeNext / 1000));
      }
      throw new AppError(503, 'unavailable', 'rate limiter unavailable');
    }
  };
  return {
    hitIp: (ip) => hit(byIp, ip, 'IP address'),
    hitAddress: (address) => hit(byAddress, address.toLowerCase(), 'address'),
  };
}
