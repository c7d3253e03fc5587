import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { STUDY_QUEUE, type StudyJobData, type StudyJobResult } from './job-types.ts';

export type StudyQueue = Queue<StudyJobData, StudyJobResult>;

export function createStudyQueue(connection: Redis, prefix: string): StudyQueue {
  return new Queue<StudyJobData, StudyJobResult>(STUDY_QUEUE, { connection, prefix });
}

/** Key of the "run once more" flag set while a study's job is active. */
export function rerunFlagKey(prefix: string, jobId: string): string {
  return `${prefix}:${STUDY_QUEUE}:rerun:${jobId}`;
}
