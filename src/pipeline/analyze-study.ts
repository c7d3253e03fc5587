import type { DicomwebClient } from '../dicom/dicomweb/dicomweb-client.ts';
import type { Codecs } from '../dicom/pixels/index.ts';
import type { FhirClient } from '../fhir/fhir-client.ts';
import { markTaskCompleted, markTaskFailed, markTaskInProgress, type TaskContext } from '../fhir/task-status.ts';
import type { StudyJobResult } from '../queue/job-types.ts';
import type { StudyJobContext, StudyProcessor } from '../queue/study-worker.ts';
import { NoImageSeriesError, StudyNotFoundError, toAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { deriveJobKey } from '../shared/uids.ts';
import { ingestSeries, type IngestedSeries } from './ingest-series.ts';
import { resolveStudy, type ResolvedStudy } from './resolve-study.ts';
import { selectSeries, type SeriesSelectionRule } from './select-series.ts';
import { createStageTimer } from './stage-timer.ts';

/** What the result stage (model, DICOM and FHIR writers) gets, and what it returns. */
export interface ResultStageInput {
  jobKey: string;
  study: ResolvedStudy;
  series: IngestedSeries[];
  dicomweb: DicomwebClient;
  time<T>(stage: string, work: () => Promise<T>): Promise<T>;
  reportProgress(stage: string, percent: number): Promise<void>;
  signal: AbortSignal;
  /** When the job was requested: the same for every attempt of it. */
  requestedAt?: Date;
}
export interface ResultStageOutput {
  diagnosticReportId?: string;
  outputs: Record<string, unknown>;
}
export type ResultStage = (input: ResultStageInput) => Promise<ResultStageOutput>;

export interface AnalyzeStudyDeps {
  logger: Logger;
  fhir?: FhirClient;
  defaultDicomwebUrl?: string;
  /** One client per DICOMweb base (main.ts caches them so connections are reused). */
  openDicomweb(baseUrl: string): DicomwebClient;
  codecs: Codecs;
  seriesRule: SeriesSelectionRule;
  /** The analysis version in the job key: a new model version writes a new set of results. */
  modelVersion: string;
  /** The model and writers; absent, the job ends after decoding (ingest-only deployments and tests). */
  results?: ResultStage;
  now?: () => Date;
}

export const ANALYSIS_TASK = 'study-analysis';

/**
 * analyzeStudy: the only place that knows the step order.
 * resolve (FHIR) -> Task in-progress -> list and select series (QIDO) -> retrieve and decode each series
 * (WADO-RS) -> results (model, STOW-RS, FHIR transaction) -> Task completed or failed.
 */
export function createStudyProcessor(deps: AnalyzeStudyDeps): StudyProcessor {
  return async (job: StudyJobContext): Promise<StudyJobResult> => {
    const timer = createStageTimer();
    const log = deps.logger.child({ jobId: job.jobId });
    const queueWaitMs = Date.now() - Date.parse(job.data.requestedAt);
    const progress = (stage: string, percent: number) => job.reportProgress({ stage, percent });

    await progress('resolve', 0);
    const study = await timer.time('resolve', () => resolveStudy(job.data.study, deps));
    const jobKey = deriveJobKey(study.studyInstanceUid, ANALYSIS_TASK, deps.modelVersion);
    const task: TaskContext | undefined =
      deps.fhir && study.imagingStudyId
        ? { jobKey, imagingStudyId: study.imagingStudyId, ...(study.patientReference ? { patientReference: study.patientReference } : {}) }
        : undefined;
    const fhir = deps.fhir;
    if (fhir && task) await timer.time('fhir-status', () => markTaskInProgress(fhir, task));

    try {
      const dicomweb = deps.openDicomweb(study.dicomwebBaseUrl);
      await progress('list-series', 5);
      const listed = await timer.time('list-series', () => dicomweb.searchSeries(study.studyInstanceUid, {}, { signal: job.signal }));
      // QIDO answers an unknown study with no series (Orthanc) or 404 (the client maps that itself).
      if (listed.length === 0) throw new StudyNotFoundError();
      const selected = selectSeries(listed, deps.seriesRule);
      if (selected.length === 0) throw new NoImageSeriesError();

      const series: IngestedSeries[] = [];
      for (const [index, s] of selected.entries()) {
        await progress('retrieve', 10 + Math.round((40 * index) / selected.length));
        const client = deps.openDicomweb(study.seriesDicomwebBaseUrls?.[s.seriesInstanceUid] ?? study.dicomwebBaseUrl);
        const ingested = await timer.time('retrieve', () => ingestSeries(client, deps.codecs, study.studyInstanceUid, s.seriesInstanceUid, job.signal));
        timer.split('retrieve', 'decode', ingested.decodeMs);
        series.push(ingested);
      }
      log.info({ series: series.map((s) => s.summary) }, 'study ingested');

      let output: ResultStageOutput = { outputs: {} };
      if (deps.results) {
        const requestedAt = new Date(job.data.requestedAt);
        output = await deps.results({
          jobKey, study, series, dicomweb, time: timer.time, reportProgress: progress, signal: job.signal,
          ...(Number.isNaN(requestedAt.getTime()) ? {} : { requestedAt }),
        });
      }
      if (fhir && task) {
        const completed = output.diagnosticReportId ? { diagnosticReportId: output.diagnosticReportId } : {};
        await timer.time('fhir-status', () => markTaskCompleted(fhir, task, completed));
      }
      await progress('done', 100);
      return {
        series: series.map((s) => s.summary),
        timingsMs: { 'queue-wait': queueWaitMs, ...timer.timings },
        jobKey,
        outputs: output.outputs,
      };
    } catch (thrown) {
      const error = toAppError(thrown);
      // The Task shows the final outcome only: a retryable failure may still succeed on a later attempt,
      // and a run stopped by shutdown is handed back to the queue, not failed.
      if (fhir && task && !job.signal.aborted && (!error.retryable || job.isFinalAttempt)) {
        await markTaskFailed(fhir, task, { errorCode: error.code }).catch((err: unknown) => log.warn({ err }, 'task status update failed'));
      }
      throw error;
    }
  };
}
