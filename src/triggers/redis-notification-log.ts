import type { Redis } from 'ioredis';
import type { NotificationLog } from './notification-log.ts';

const SEEN_TTL_SECONDS = 7 * 24 * 3600;

/** NotificationLog on Redis, shared by every API process behind a load balancer. */
export function createRedisNotificationLog(redis: Redis, prefix: string): NotificationLog {
  const key = (kind: string, id: string) => `${prefix}:notifications:${kind}:${id}`;
  return {
    async markSeen(id) {
      const set = await redis.set(key('seen', id), '1', 'EX', SEEN_TTL_SECONDS, 'NX');
      return set === 'OK';
    },
    async recordEventNumber(subscription, eventNumber) {
      // Atomic swap so concurrent deliveries see consistent predecessors.
      const previous = await redis.set(key('event', subscription), String(eventNumber), 'GET');
      return previous === null ? undefined : Number(previous);
    },
    async recordStatus(subscription, type) {
      await redis.hset(key('status', subscription), { type, at: new Date().toISOString() });
    },
  };
}
