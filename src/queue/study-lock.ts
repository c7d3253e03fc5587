// One run of a study at a time, across every worker process on one Redis: a key per study (by its UID
// hash) owned by a run id, with a TTL renewed while the run's attempt goes on, so a dead process's lock
// expires by itself. Scripts keep check-and-set atomic and report the Redis server's clock, so the
// times a run held the lock can be compared across hosts.
import type { Redis } from 'ioredis';

// Take the lock when free or already ours (a stalled attempt of the same run is dead: BullMQ gave us its job).
const ACQUIRE = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local t = redis.call('TIME')
return {t[1], t[2]}`;

const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`;

const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
return {t[1], t[2]}`;

export interface StudyLock {
  /** The server time (µs) it was taken at; undefined when another run holds it. */
  acquire(studyKey: string, runId: string): Promise<number | undefined>;
  /** false when the lock is no longer ours (it expired and another run took it). */
  renew(studyKey: string, runId: string): Promise<boolean>;
  /** The server time (µs) it was released at; undefined when it was no longer ours. */
  release(studyKey: string, runId: string): Promise<number | undefined>;
  readonly ttlMs: number;
}

export function createStudyLock(redis: Redis, prefix: string, ttlMs: number): StudyLock {
  const key = (studyKey: string) => `${prefix}:studies:lock:${studyKey}`;
  const micros = (time: unknown) => {
    if (!Array.isArray(time)) return undefined;
    return Number(time[0]) * 1_000_000 + Number(time[1]);
  };
  return {
    ttlMs,
    async acquire(studyKey, runId) {
      return micros(await redis.eval(ACQUIRE, 1, key(studyKey), runId, String(ttlMs)));
    },
    async renew(studyKey, runId) {
      return (await redis.eval(RENEW, 1, key(studyKey), runId, String(ttlMs))) === 1;
    },
    async release(studyKey, runId) {
      return micros(await redis.eval(RELEASE, 1, key(studyKey), runId));
    },
  };
}
