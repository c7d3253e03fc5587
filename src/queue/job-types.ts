// Job data holds ids only: the worker re-reads everything it needs from the FHIR server and the PACS.

/** Queue of the analyze stage (resolve, retrieve, model, build; outputs persisted). */
export const STUDY_QUEUE = 'study-analysis';
/** Queue of the publish stage (STOW, FHIR, Task); its workers need no model. */
export const PUBLISH_QUEUE = 'study-publish';

export type TriggerSource = 'fhir-notification' | 'api' | 'dicomweb-poll' | 'reconcile' | 'cli' | 'replay' | 'fhir-task';

/** What a trigger knows about a study. At least one of the two ids is set. */
export interface StudyReference {
  /** FHIR ImagingStudy logical id on FHIR_URL. */
  imagingStudyId?: string;
  /** DICOM Study Instance UID. */
  studyInstanceUid?: string;
}

/** Shared by both stages' jobs. */
export interface StageJobData {
  /** When this stage's retry window opened (ms since epoch); set by the first attempt, reset by a replay. */
  windowStartedAt?: number;
}

/** The analyze job; its BullMQ job id is the run id. */
export interface StudyJobData extends StageJobData {
  study: StudyReference;
  trigger: TriggerSource;
  /** ISO time the trigger fired (for queue-wait metrics and content dates). */
  requestedAt: string;
  /** The run this one replays, if any. */
  replayOf?: string;
  /** A question run: what to ask about which images (never folded with other runs of the study). */
  question?: QuestionRequest;
}

/** One question about a study's images. */
export interface QuestionRequest {
  text: string;
  /** The series to look at; absent: the first image series of the study. */
  seriesInstanceUid?: string;
  /** 0-based slice (frame) indices in the series' spatial order; absent: the middle one. */
  slices?: number[];
  /** Longest answer, in tokens (default 512; MODEL_MAX_NEW_TOKENS bounds it). */
  maxNewTokens?: number;
  /** Asked as a FHIR Task ("ask"): the answer becomes that Task's output instead of an Observation. */
  fhirTaskId?: string;
}

/** The publish job of a run (job id `<runId>-publish`): everything else is in the persisted outputs. */
export interface PublishJobData extends StageJobData {
  runId: string;
}
