import type { StudyReference, TriggerSource } from './job-types.ts';

/** What every trigger hands to enqueueStudy(). */
export interface StudyRequest {
  study: StudyReference;
  trigger: TriggerSource;
}

export interface EnqueueResult {
  jobId: string;
  /** false when an equivalent job was already waiting and this request was folded into it. */
  created: boolean;
  /** true when the study's job was running: it will run once more when the current run ends. */
  rerunScheduled: boolean;
}

export type EnqueueStudy = (request: StudyRequest) => Promise<EnqueueResult>;
