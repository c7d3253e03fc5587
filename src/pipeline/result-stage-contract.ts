// What the analyze stage asks of the model-and-builders part (the result stage), and what it gets back.
import type { DicomResultObject } from '../dicom/writers/result-common.ts';
import type { AiResultInput } from '../fhir/builders/result-input.ts';
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

/** Everything the publish stage sends, built and validated; nothing is sent by the analyze stage. */
export interface AnalysisOutputs {
  dicomObjects: DicomResultObject[];
  /** The FHIR result input (its bundle validated), when a FHIR server and an ImagingStudy are known. */
  fhirInput?: AiResultInput;
  /** Model tasks that produced output. */
  tasks: number;
  /** Calls into the model engine. */
  engineCalls: number;
}

export interface ResultStage {
  /** Model version and task profiles: part of the input identity (a change analyzes again). */
  readonly analysisVersion: string;
  /** The tasks the profiles give a series; none: the series is not retrieved. */
  tasksFor(series: SeriesAttributes): readonly TaskSpec[];
  /** Model and builders: every DICOM object and the FHIR result input, validated; no I/O to servers. */
  analyze(input: ResultStageInput): Promise<AnalysisOutputs>;
}
