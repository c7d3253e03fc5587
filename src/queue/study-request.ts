import type { QuestionRequest, StudyReference, TriggerSource } from './job-types.ts';

/** What every trigger hands to enqueueStudy(). */
export interface StudyRequest {
  study: StudyReference;
  trigger: TriggerSource;
  /** Set by a replay: the run this one repeats. */
  replayOf?: string;
  /** A question about the study: its own run, never folded into the study's analysis runs. */
  question?: QuestionRequest;
}

export interface EnqueueResult {
  /** The run that will handle the request (a new one, or the one it was folded into). */
  jobId: string;
  /** false when an equivalent run was already waiting and this request was folded into it. */
  created: boolean;
  /** true when the study's run was active: one more run follows when it ends (see the study's runs). */
  rerunScheduled: boolean;
}

export type EnqueueStudy = (request: StudyRequest) => Promise<EnqueueResult>;
