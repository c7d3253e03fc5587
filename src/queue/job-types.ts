// Job data holds ids only: the worker re-reads everything it needs from the FHIR server and the PACS.

/** Queue of the analyze stage (resolve, retrieve, model, build; outputs persisted). */
export const STUDY_QUEUE = 'study-analysis';
/** Queue of the publish stage (STOW, FHIR, Task); its workers need no model. */
export const PUBLISH_QUEUE = 'study-publish';

export type TriggerSource = 'fhir-notification' | 'api' | 'dicomweb-poll' | 'reconcile' | 'cli' | 'replay';

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
}

/** The publish job of a run (job id `<runId>-publish`): everything else is in the persisted outputs. */
export interface PublishJobData extends StageJobData {
  runId: string;
}
