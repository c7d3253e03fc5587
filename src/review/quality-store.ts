// The review outcome counts per model version and task, in one Redis hash each (every service host on
// one Redis shows the same figures). Counts only: no report text, no patient data. Each decision is
// counted once: the review loop asks `countOnce` with the Task's id, so a retried decision is no recount.
import type { Redis } from 'ioredis';
import type { QualityGroup, QualitySource, QualitySummary } from '../shared/quality-summary.ts';

export type ReviewDecision = 'accepted' | 'edited' | 'rejected' | 'timed-out';

const FIELD: Record<ReviewDecision, 'accepted' | 'edited' | 'rejected' | 'timedOut'> = {
  accepted: 'accepted', edited: 'edited', rejected: 'rejected', 'timed-out': 'timedOut',
};

export interface QualityStore extends QualitySource {
  /** A review Task was created for a draft (counted once per Task). */
  opened(group: { modelVersion: string; task: string }, taskId: string): Promise<void>;
  /** A decision (or the timeout) for the Task; false when it was counted before. */
  countOnce(group: { modelVersion: string; task: string }, taskId: string, decision: ReviewDecision, editDistance?: number): Promise<boolean>;
}

export function createQualityStore(redis: Redis, prefix: string, now: () => Date = () => new Date()): QualityStore {
  const groupsKey = `${prefix}:quality:groups`;
  const groupKey = (g: { modelVersion: string; task: string }) => `${prefix}:quality:${JSON.stringify([g.modelVersion, g.task])}`;
  const markerKey = (taskId: string, what: string) => `${prefix}:quality:counted:${taskId}:${what}`;
  // Markers outlive any review window; they only stop a recount.
  const MARKER_TTL_S = 400 * 24 * 3600;
  return {
    async opened(group, taskId) {
      if ((await redis.set(markerKey(taskId, 'opened'), '1', 'EX', MARKER_TTL_S, 'NX')) !== 'OK') return;
      await redis.multi().sadd(groupsKey, JSON.stringify([group.modelVersion, group.task])).hincrby(groupKey(group), 'pending', 1).exec();
    },
    async countOnce(group, taskId, decision, editDistance) {
      // A late decision after the timeout is counted too (the timeout stays: the window was missed).
      const marker = decision === 'timed-out' ? 'timed-out' : 'decided';
      if ((await redis.set(markerKey(taskId, marker), '1', 'EX', MARKER_TTL_S, 'NX')) !== 'OK') return false;
      const stillPending = decision === 'timed-out' || (await redis.exists(markerKey(taskId, 'timed-out'))) === 0;
      const tx = redis.multi().sadd(groupsKey, JSON.stringify([group.modelVersion, group.task])).hincrby(groupKey(group), FIELD[decision], 1);
      if (stillPending) tx.hincrby(groupKey(group), 'pending', -1);
      if (decision === 'edited' && editDistance !== undefined) tx.hincrbyfloat(groupKey(group), 'editDistanceSum', editDistance);
      await tx.exec();
      return true;
    },
    async summary(): Promise<QualitySummary> {
      const members = (await redis.smembers(groupsKey)).sort();
      const groups: QualityGroup[] = [];
      for (const member of members) {
        const [modelVersion, task] = JSON.parse(member) as [string, string];
        const hash = await redis.hgetall(groupKey({ modelVersion, task }));
        const n = (field: string) => Number(hash[field] ?? 0);
        const decided = n('accepted') + n('edited') + n('rejected') + n('timedOut');
        groups.push({
          modelVersion, task,
          accepted: n('accepted'), edited: n('edited'), rejected: n('rejected'), timedOut: n('timedOut'),
          pending: Math.max(0, n('pending')),
          meanEditDistance: n('edited') > 0 ? n('editDistanceSum') / n('edited') : null,
          acceptanceRate: decided > 0 ? (n('accepted') + n('edited')) / decided : null,
        });
      }
      return { generatedAt: now().toISOString(), groups };
    },
  };
}
