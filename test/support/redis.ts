import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedisConnection } from '../../src/queue/redis-connection.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A connection plus a key prefix of its own, so test runs never see each other's queues. */
export function openTestRedis(): { redis: Redis; prefix: string; cleanup(): Promise<void> } {
  const redis = createRedisConnection(REDIS_URL);
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  return {
    redis,
    prefix,
    async cleanup() {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}
