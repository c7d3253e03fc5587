// What the analyse stage asks of the model-and-builders part (the result stage), and what it gets back.
import type { DicomResultObject } from '../dicom/writers/result-common.ts';
import type { AiResultInput } from '../fhir/builders/result-input.ts';
import type { TaskAnalysis } from './assemble-results.ts';
import type { IngestedSeries } from './ingest-series.ts';
import type { ResolvedStudy } from './resolve-study.ts';
import type { SeriesAttributes, TaskSpec } from './task-profiles/index.ts';

export interface ResultStageInput {
  jobKey: string;
  study: ResolvedStudy;
  series: IngestedSeries[];
  time<T>(stage: string, work: () => Promise<T>): Promise<T>;
  reportProgress(stage: string, percent: number): Promise<void>;
  signal: AbortSignal;
  /** When the run was requested: content dates come from it, so a rerun builds identical objects. */
  requestedAt?: Date;
}

/** Everything the publish stage sends, built and validated; nothing is sent by the analyse stage. */
export interface AnalysisOutputs {
  dicomObjects: DicomResultObject[];
  /** The FHIR result input (its bundle validated), when a FHIR server and an ImagingStudy are known. */
  fhirInput?: AiResultInput;
  /** Model tasks that produced output. */
  tasks: number;
  /** Calls into the model engine. */
  engineCalls: number;
  /** What the model said about its own work: analyze-first answers, reports cut by the token limit. */
  modelNotes?: ModelNotes;
}

export interface ModelNotes {
  /** analyze-first answers (model output: kept with the run's outputs, never logged) */
  analyses: TaskAnalysis[];
  /** ids of report tasks whose text stopped at the token limit */
  reportsCutByTokenLimit: string[];
}

export interface ResultStage {
  /** Model version and task profiles: part of the input identity (a change analyses again). */
  readonly analysisVersion: string;
  /** The tasks the profiles give a series; none: the series is not retrieved. */
  tasksFor(series: SeriesAttributes): readonly TaskSpec[];
  /** Model and builders: every DICOM object and the FHIR result input, validated; no I/O to servers. */
  analyze(input: ResultStageInput): Promise<AnalysisOutputs>;
}
