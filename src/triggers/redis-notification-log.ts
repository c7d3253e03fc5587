import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { NotificationLog } from './notification-log.ts';

// Every key expires: senders (and, without WEBHOOK_SECRET, anyone) choose subscription names, so the
// log must not grow with them. Seen keys: 7 days; event marks and statuses: 30 days after their last write.
export const SEEN_TTL_SECONDS = 7 * 24 * 3600;
export const SUBSCRIPTION_TTL_SECONDS = 30 * 24 * 3600;
const KEEP_MAX = `local p = redis.call('GET', KEYS[1])
if (not p) or tonumber(p) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return p`;

/** NotificationLog on Redis, shared by every API process behind a load balancer. */
export function createRedisNotificationLog(redis: Redis, prefix: string): NotificationLog {
  // Keys hold hashes: FHIR ids of studies stay out of Redis key names.
  const key = (kind: string, id: string) => `${prefix}:notifications:${kind}:${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
  return {
    async markSeen(id) {
      const set = await redis.set(key('seen', id), '1', 'EX', SEEN_TTL_SECONDS, 'NX');
      return set === 'OK';
    },
    async forget(id) {
      await redis.del(key('seen', id));
    },
    async recordEventNumber(subscription, eventNumber) {
      // Atomic max: a late, out-of-order event must not lower the mark (that would fake a gap later).
      const previous = (await redis.eval(KEEP_MAX, 1, key('event', subscription), String(eventNumber), String(SUBSCRIPTION_TTL_SECONDS))) as string | null;
      return previous === null ? undefined : Number(previous);
    },
    async recordStatus(subscription, type) {
      const status = key('status', subscription);
      await redis.multi().hset(status, { type, at: new Date().toISOString() }).expire(status, SUBSCRIPTION_TTL_SECONDS).exec();
    },
  };
}
