import type { AttemptRecord, StudyJobProgress, TriggerSource } from './job-types.ts';

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'prioritized' | 'waiting-children' | 'unknown';

/** A job as the API shows it: ids, state, progress and failure codes, never patient data. */
export interface JobView {
  id: string;
  state: JobState;
  trigger: TriggerSource;
  progress: StudyJobProgress | null;
  attemptsMade: number;
  /** Stable error code of the last failure (see src/shared/errors.ts), if any. */
  failureCode: string | null;
  attempts: AttemptRecord[];
  createdAt: string;
  processedAt: string | null;
  finishedAt: string | null;
  result: Record<string, unknown> | null;
}

export interface JobStore {
  getJob(id: string): Promise<JobView | undefined>;
  listJobs(filter: { state?: JobState; limit: number; offset: number }): Promise<JobView[]>;
  countsByState(): Promise<Record<string, number>>;
}
