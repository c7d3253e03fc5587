// The run model: one execution for one study at one content version, in two stages. What a run shows
// holds ids, hashes, codes, counts and times only: never patient data, raw UIDs or model text (the
// trigger's own ids are kept apart, to replay the run, and never shown).
import type { StudyReference, TriggerSource } from './job-types.ts';

/** What a run does. `question` (on-demand questions about a study) will join `analysis`. */
/** analysis: the task profiles' tasks on a study; question: one question about a study (POST /studies/{uid}/questions, a FHIR Task "ask"). */
export type RunKind = 'analysis' | 'question';

export type RunStage = 'analyze' | 'publish';

/**
 * - queued: waiting to start a stage (debounce, the study lock of another run, a replay);
 * - running: an attempt is under way;
 * - retrying: the last attempt met a transient fault, the next one is scheduled within the stage's window;
 * - completed: ended; `outcome` says how;
 * - failed: a permanent fault (its code in `errorCode`);
 * - dead-letter: the retry window ended on a transient fault; replayable (`POST /jobs/{id}/retry`).
 */
export type RunState = 'queued' | 'running' | 'retrying' | 'completed' | 'failed' | 'dead-letter';

/**
 * - published: results stored in the PACS and FHIR, Task completed;
 * - unchanged: the same input identity was already analyzed; `resultsOf` names the run whose results stand;
 * - superseded: a newer run of the same result identity was analyzed first, so this one's results were not sent;
 * - no-image-series: nothing to analyze (SR, RT, SEG-only studies); Task rejected with the reason;
 * - no-matching-profile: image series, but no task profile for their modalities; Task completed saying so.
 * - awaiting-review: review mode; draft report and review Task written, DICOM objects held for the decision.
 */
export type RunOutcome = 'published' | 'unchanged' | 'superseded' | 'no-image-series' | 'no-matching-profile' | 'answered' | 'awaiting-review';

export const RUN_STATES: readonly RunState[] = ['queued', 'running', 'retrying', 'completed', 'failed', 'dead-letter'];

export interface RunAttempt {
  stage: RunStage;
  /** 1-based per stage. */
  attempt: number;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  /** `stalled`: its worker died (or stopped renewing its lock) before it ended. */
  outcome: 'running' | 'completed' | 'failed' | 'stalled';
  errorCode?: string;
  retryable?: boolean;
  /** When the next attempt is due (retrying only). */
  nextAttemptAt?: string;
  /** `host:pid` of the process that ran it. */
  worker: string;
  /** Stage timings of this attempt (ms). A publish attempt has no `model` entry: it never runs the model. */
  timingsMs?: Record<string, number>;
  /** Calls into the model engine during this attempt. */
  engineCalls?: number;
  /** When this attempt held the study lock, on the Redis server's clock (microseconds since the epoch). */
  lock?: { fromUs: number; toUs: number | null };
}

export interface RunEvent {
  at: string;
  type: 'lock-wait' | 'stalled' | 'handed-back' | 'dead-lettered' | 'replayed' | 'lock-lost' | 'cancelled';
  stage?: RunStage;
  errorCode?: string;
  /** A run id this event points to (the new run of a replay). */
  runId?: string;
}

export interface RunResults {
  /** Model tasks that produced output. */
  tasks: number;
  dicomObjects: { role: string; outcome: string }[];
  diagnosticReport?: string;
  task?: string;
  /** Question runs: the model's answer (the caller asked for it; kept with the run, never logged). */
  answer?: string;
  /** Question runs: where the answer was written, `Observation/<id>` or the asking `Task/<id>`. */
  observation?: string;
  /** Review mode: the review Task (`Task/<id>`) the clinician decides on. */
  reviewTask?: string;
}

export interface RunRecord {
  id: string;
  kind: RunKind;
  trigger: TriggerSource;
  state: RunState;
  stage: RunStage;
  outcome: RunOutcome | null;
  errorCode: string | null;
  retryable: boolean | null;
  /** Hash of the Study Instance UID, once known (also the key of the study's run index). */
  studyKey: string | null;
  /** Modalities of the study's series, as listed by QIDO-RS. */
  modalities: string[];
  /** Modalities of selected image series that no task profile matched. */
  unmatchedModalities: string[];
  /** Hash of study UID + series and instance UIDs + model version + task profiles. */
  inputIdentity: string | null;
  /** The result identity (study + task + model version) the results are keyed by. */
  jobKey: string | null;
  resultsOf: string | null;
  replayOf: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  progress: { stage: string; percent: number } | null;
  series: SeriesSummary[];
  results: RunResults | null;
  attempts: RunAttempt[];
  events: RunEvent[];
  /** What the trigger knew, kept to replay the run; never shown by the API. */
  study: StudyReference;
  /** ImagingStudy.meta.versionId the run read (reconciliation skips versions that already ran). */
  imagingStudyVersion: string | null;
}

/** One analyzed series as a run shows it. */
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
  /** Whole-slide series: the pyramid level retrieved (0 = full resolution) of how many, and its tile count. */
  pyramidLevel?: { level: number; levels: number; tiles: number };
}

/** Facts a stage learns while it runs. */
export type RunNote = Partial<Pick<RunRecord,
  'studyKey' | 'modalities' | 'unmatchedModalities' | 'inputIdentity' | 'jobKey' | 'series' | 'imagingStudyVersion'>>;

/** Filters of a run listing (a console pages through them). */
export interface RunFilter {
  studyKey?: string;
  state?: RunState;
  errorCode?: string;
  modality?: string;
  kind?: RunKind;
  /** createdAt bounds, inclusive (ms since epoch). */
  from?: number;
  to?: number;
  limit: number;
  offset: number;
}
