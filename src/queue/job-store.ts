import type { Job, JobType } from 'bullmq';
import type { AttemptRecord, StudyJobData, StudyJobProgress, StudyJobResult } from './job-types.ts';
import type { JobState, JobStore, JobView } from './job-view.ts';
import type { StudyQueue } from './study-queue.ts';

const LISTABLE: JobType[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'];

/** Reads jobs from BullMQ and shows them as JobView: ids, state, progress, codes; no patient data. */
export function createJobStore(queue: StudyQueue): JobStore {
  return {
    async getJob(id) {
      const job = await queue.getJob(id);
      if (!job) return undefined;
      return toJobView(job, (await job.getState()) as JobState);
    },
    async listJobs({ state, limit, offset }) {
      const types = state ? [state as JobType] : LISTABLE;
      const jobs = await queue.getJobs(types, offset, offset + limit - 1, false);
      return Promise.all(jobs.filter(Boolean).map(async (job) => toJobView(job, state ?? ((await job.getState()) as JobState))));
    },
    async countsByState() {
      return queue.getJobCounts(...LISTABLE);
    },
  };
}

function toJobView(job: Job<StudyJobData, StudyJobResult>, state: JobState): JobView {
  const data = job.data as StudyJobData & { attempts?: AttemptRecord[] };
  const progress = isProgress(job.progress) ? job.progress : null;
  return {
    id: job.id ?? '',
    state,
    trigger: data.trigger,
    progress,
    attemptsMade: job.attemptsMade,
    // Our processor only ever fails jobs with an error code as the reason (see study-worker.ts).
    failureCode: job.failedReason ? job.failedReason : null,
    attempts: data.attempts ?? [],
    createdAt: new Date(job.timestamp).toISOString(),
    processedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    result: state === 'completed' && job.returnvalue ? (job.returnvalue as unknown as Record<string, unknown>) : null,
  };
}

function isProgress(value: unknown): value is StudyJobProgress {
  return typeof value === 'object' && value !== null && 'stage' in value && 'percent' in value;
}
