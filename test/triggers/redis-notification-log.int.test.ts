import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedisNotificationLog } from '../../src/triggers/redis-notification-log.ts';
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
});
