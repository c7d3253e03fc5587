// Job data holds ids only: the worker re-reads everything it needs from the FHIR server and the PACS.

export const STUDY_QUEUE = 'study-analysis';

export type TriggerSource = 'fhir-notification' | 'api' | 'dicomweb-poll' | 'reconcile' | 'cli';

/** What a trigger knows about a study. At least one of the two ids is set. */
export interface StudyReference {
  /** FHIR ImagingStudy logical id on FHIR_URL. */
  imagingStudyId?: string;
  /** DICOM Study Instance UID. */
  studyInstanceUid?: string;
}

export interface StudyJobData {
  study: StudyReference;
  trigger: TriggerSource;
  /** ISO time the trigger fired (for queue-wait metrics). */
  requestedAt: string;
}

/** Progress reported by the processor; `stage` names one of the pipeline's steps. */
export interface StudyJobProgress {
  stage: string;
  percent: number;
}

/** Per-attempt history kept on the job, so a failed job says what happened each time. */
export interface AttemptRecord {
  attempt: number;
  startedAt: string;
  endedAt: string;
  outcome: 'completed' | 'failed';
  errorCode?: string;
  retryable?: boolean;
}

export interface SeriesSummary {
  /** Hashed series handle; raw UIDs stay out of job records. */
  seriesKey: string;
  modality: string;
  instances: number;
  frames: number;
  bytes: number;
  rows: number;
  columns: number;
  transferSyntaxes: string[];
}

export interface StudyJobResult {
  series: SeriesSummary[];
  timingsMs: Record<string, number>;
  /** The result identity (study + task + model version), as written into FHIR identifiers. */
  jobKey?: string;
  outputs?: Record<string, unknown>;
}
