import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EnqueueResult, StudyRequest } from './study-request.ts';
import type { StudyJobData } from './job-types.ts';
import { studyJobId } from './study-job-id.ts';
import { rerunFlagKey, type StudyQueue } from './study-queue.ts';

export interface StudyProducerOptions {
  queue: StudyQueue;
  redis: Redis;
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** Delay before a new job may start, so a burst of notifications about one study becomes one run. */
  debounceMs: number;
}

/**
 * The single entry for every trigger. One job per study at a time:
 * - waiting or delayed: the request folds into it;
 * - active: a flag asks the worker to run the study once more when the current run ends;
 * - completed or failed: the study may have changed since, so the old record is replaced by a new job.
 */
export function createEnqueueStudy(options: StudyProducerOptions) {
  const { queue, redis, prefix } = options;
  return async function enqueueStudy(request: StudyRequest): Promise<EnqueueResult> {
    const jobId = studyJobId(request.study);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const state = await queue.getJobState(jobId);
      if (state === 'active') {
        const flag = rerunFlagKey(prefix, jobId);
        await redis.set(flag, '1', 'EX', 24 * 3600);
        // The run may have ended between the state read and the flag: then nobody would take the flag.
        if ((await queue.getJobState(jobId)) === 'active') return { jobId, created: false, rerunScheduled: true };
        await redis.del(flag);
        continue;
      }
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') {
        return { jobId, created: false, rerunScheduled: false };
      }
      if (state === 'completed' || state === 'failed') {
        // Fails harmlessly when a concurrent request removed it first or a worker holds it.
        await queue.remove(jobId).catch(() => 0);
        continue;
      }
      const requestId = randomUUID();
      const data: StudyJobData & { requestId: string } = {
        study: request.study,
        trigger: request.trigger,
        requestedAt: new Date().toISOString(),
        requestId,
      };
      await queue.add('analyze-study', data, {
        jobId,
        delay: options.debounceMs,
        attempts: options.attempts,
        backoff: { type: 'exponential', delay: options.backoffMs },
        removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
        removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
      });
      // An add with an existing id is a no-op: the stored data tells whether ours won.
      const stored = await queue.getJob(jobId);
      const created = (stored?.data as { requestId?: string } | undefined)?.requestId === requestId;
      return { jobId, created, rerunScheduled: false };
    }
    // The job kept changing state under us; it exists in some state, which is what the caller needs.
    return { jobId, created: false, rerunScheduled: false };
  };
}
