import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { PUBLISH_QUEUE, STUDY_QUEUE, type PublishJobData, type StudyJobData } from './job-types.ts';

export type StudyQueue = Queue<StudyJobData>;
export type PublishQueue = Queue<PublishJobData>;

export function createStudyQueue(connection: Redis, prefix: string): StudyQueue {
  return new Queue<StudyJobData>(STUDY_QUEUE, { connection, prefix });
}

export function createPublishQueue(connection: Redis, prefix: string): PublishQueue {
  return new Queue<PublishJobData>(PUBLISH_QUEUE, { connection, prefix });
}

/** Name of the backoff strategy both stages use (see stage-worker.ts: the delay travels with the error). */
export const RUN_BACKOFF = 'run-window';

/**
 * BullMQ options shared by both stages' jobs. Retries are bounded by each stage's window, not by a count,
 * so `attempts` only needs to be out of reach. Finished jobs are kept as long as the run records.
 */
export function stageJobOptions(retention: { retentionMs: number; retentionCount: number }) {
  const keep = { age: Math.ceil(retention.retentionMs / 1000), count: retention.retentionCount };
  return {
    attempts: 1_000_000,
    backoff: { type: RUN_BACKOFF },
    removeOnComplete: keep,
    removeOnFail: keep,
  };
}
