// What the analyze stage asks of the model-and-builders part (the result stage), and what it gets back.
import type { DicomResultObject } from '../dicom/writers/result-common.ts';
import type { AnswerBundle } from '../fhir/builders/build-answer-bundle.ts';
import type { AiResultInput } from '../fhir/builders/result-input.ts';
import type { RgbImage } from '../model/types.ts';
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

/** Everything the publish stage sends, built and validated; nothing is sent by the analyze stage. */
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

/** One question about chosen images of one series (and, optionally, key images of a prior study). */
export interface QuestionInput {
  jobKey: string;
  study: ResolvedStudy;
  series: IngestedSeries;
  sliceIndices: number[];
  question: string;
  maxNewTokens: number;
  /** Key images of the prior study, shown to the model before the current ones. */
  priorImages?: RgbImage[];
  /** What the Provenance says about other inputs (the prior study). */
  provenanceNotes?: string[];
  /** Asked by this FHIR Task: the answer goes into its output, the Provenance targets it. */
  askTaskId?: string;
  signal: AbortSignal;
  requestedAt?: Date;
}

export interface QuestionOutputs {
  answer: string;
  /** The answer as FHIR resources, validated, when a FHIR server and an ImagingStudy are known. */
  fhir?: AnswerBundle;
  engineCalls: number;
}

export interface ResultStage {
  /** Model version and task profiles: part of the input identity (a change analyzes again). */
  readonly analysisVersion: string;
  /** The tasks the profiles give a series; none: the series is not retrieved. */
  tasksFor(series: SeriesAttributes): readonly TaskSpec[];
  /** Model and builders: every DICOM object and the FHIR result input, validated; no I/O to servers. */
  analyze(input: ResultStageInput): Promise<AnalysisOutputs>;
  /** Understanding on the chosen images with the question as the prompt; the answer built for FHIR. */
  answer?(input: QuestionInput): Promise<QuestionOutputs>;
}
