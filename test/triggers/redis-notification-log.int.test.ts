import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisNotificationLog, SEEN_TTL_SECONDS, SUBSCRIPTION_TTL_SECONDS } from '../../src/triggers/redis-notification-log.ts';
import { openTestRedis } from '../support/redis.ts';

describe('Redis notification log', () => {
  let redis: Redis;
  let prefix: string;
  let cleanup: () => Promise<void>;
  beforeEach(() => ({ redis, prefix, cleanup } = openTestRedis()));
  afterEach(() => cleanup());

  it('marks a key once, forgets it on request, and keeps raw ids out of key names', async () => {
    const log = createRedisNotificationLog(redis, prefix);
    const key = 'Subscription/s1|ImagingStudy/patient-study-42|v3';
    expect(await log.markSeen(key)).toBe(true);
    expect(await log.markSeen(key)).toBe(false);
    await log.forget(key);
    expect(await log.markSeen(key)).toBe(true);
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys.join(' ')).not.toContain('patient-study-42');
  });

  it('keeps the highest event number, so a late event does not fake a later gap', async () => {
    const log = createRedisNotificationLog(redis, prefix);
    expect(await log.recordEventNumber('s1', 5)).toBeUndefined();
    expect(await log.recordEventNumber('s1', 7)).toBe(5);
    expect(await log.recordEventNumber('s1', 6)).toBe(7);
    expect(await log.recordEventNumber('s1', 8)).toBe(7);
  });

  it('lets every key it writes expire, so sender-chosen subscription names cannot grow Redis without bound', async () => {
    const log = createRedisNotificationLog(redis, prefix);
    await log.markSeen('Subscription/s1|ImagingStudy/a|v1');
    await log.recordEventNumber('Subscription/s1', 3);
    await log.recordEventNumber('Subscription/s1', 2);
    await log.recordStatus('Subscription/s1', 'heartbeat');
    const keys = await redis.keys(`${prefix}:notifications:*`);
    expect(keys).toHaveLength(3);
    for (const key of keys) {
      const ttl = await redis.ttl(key);
      const limit = key.includes(':seen:') ? SEEN_TTL_SECONDS : SUBSCRIPTION_TTL_SECONDS;
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(limit);
    }
  });
});
