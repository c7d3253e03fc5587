import { firstString, Tag, type DicomJsonDataset } from '../dicom/dicom-json.ts';
import type { DicomwebClient } from '../dicom/dicomweb/dicomweb-client.ts';
import type { Codecs } from '../dicom/pixels/index.ts';
import type { FhirClient } from '../fhir/fhir-client.ts';
import { findTask, markTaskCompleted, markTaskFailed, markTaskInProgress, markTaskRejected, type TaskContext } from '../fhir/task-status.ts';
import type { StudyJobData } from '../queue/job-types.ts';
import type { RunRecord } from '../queue/run-record.ts';
import type { ResultsStore } from '../queue/results-store.ts';
import type { StageContext, StageProcessor, StageResult } from '../queue/stage-worker.ts';
import type { StudyMemory } from '../queue/study-memory.ts';
import { StudyNotFoundError, toAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { deriveJobKey, hashStudyUid } from '../shared/uids.ts';
import type { ResourceValidator } from '../fhir/validate-resource.ts';
import { answerQuestion } from './answer-question.ts';
import { ingestSeries, type IngestedSeries } from './ingest-series.ts';
import { findPriorImages } from './find-prior-study.ts';
import { inputIdentity } from './input-identity.ts';
import type { PriorsOption } from './task-profiles/index.ts';
import { resolveStudy, type ResolvedStudy } from './resolve-study.ts';
import type { AnalysisOutputs, ResultStage } from './result-stage-contract.ts';
import { serializeRunOutputs, type RunOutputs } from './run-outputs.ts';
import { showFailureOnTask } from './run-task.ts';
import { selectSeries, type SelectedSeries, type SeriesSelectionRule } from './select-series.ts';
import { createStageTimer } from './stage-timer.ts';


export interface AnalyzeStudyDeps {
  logger: Logger;
  fhir?: FhirClient;
  defaultDicomwebUrl?: string;
  /**
   * One client per DICOMweb base (main.ts caches them so connections are reused); throws
   * EndpointNotAllowedError for a base outside DICOMWEB_ALLOWED_ORIGINS.
   */
  openDicomweb(baseUrl: string): DicomwebClient;
  codecs: Codecs;
  seriesRule: SeriesSelectionRule;
  /** The analysis version in the job key: a new model version writes a new set of results. */
  modelVersion: string;
  /** The model and builders; absent, the run ends after decoding (ingest-only deployments and tests). */
  results?: ResultStage;
  outputs: Pick<ResultsStore, 'put' | 'has'>;
  memory: Pick<StudyMemory, 'learnAlias' | 'runForIdentity' | 'recordAnalysis' | 'recordImagingStudyVersion'>;
  runs: { get(id: string): Promise<RunRecord | undefined> };
  /** Validates what question runs write to FHIR (analysis results are validated by the result stage). */
  fhirValidator?: ResourceValidator;
  /** Publishes a failed run's persisted outputs again (a new run found it had the same input). */
  replayPublish(runId: string): Promise<unknown>;
}

export const ANALYSIS_TASK = 'study-analysis';

/** A series to analyze, with its metadata (read first, to plan and to fix the input identity). */
interface PlannedSeries {
  series: SelectedSeries;
  metadata: DicomJsonDataset[];
  hasTasks: boolean;
}

/**
 * The analyze stage, the only place that knows its step order: resolve (FHIR re-read) -> study lock ->
 * list and select series (QIDO) -> series metadata and task plan -> input identity (same as a run already
 * analyzed: a no-op) -> Task in-progress -> retrieve and decode (WADO-RS) -> model and builders ->
 * outputs persisted under the run id -> on to the publish stage. Nothing is sent to the PACS here.
 */
export function createAnalyzeProcessor(deps: AnalyzeStudyDeps): StageProcessor<StudyJobData> {
  return {
    run: (ctx) => analyzeStudy(ctx, deps),
    async abandoned(runId, errorCode) {
      const run = await deps.runs.get(runId);
      if (deps.fhir && run?.jobKey) await failTask(deps.fhir, run.jobKey, errorCode);
    },
  };
}

async function analyzeStudy(ctx: StageContext<StudyJobData>, deps: AnalyzeStudyDeps): Promise<StageResult> {
  if (ctx.data.question) return answerQuestion(ctx, deps, ctx.data.question);
  const timer = createStageTimer();
  const log = deps.logger.child({ runId: ctx.runId });
  const queueWaitMs = Math.max(0, Date.now() - Date.parse(ctx.data.requestedAt));
  const timings = () => ({ 'queue-wait': queueWaitMs, ...timer.timings });

  await ctx.progress('resolve', 0);
  const study = await timer.time('resolve', () => resolveStudy(ctx.data.study, deps));
  const studyKey = hashStudyUid(study.studyInstanceUid);
  const jobKey = deriveJobKey(study.studyInstanceUid, ANALYSIS_TASK, deps.modelVersion);
  await ctx.note({ studyKey, jobKey, ...(study.imagingStudyVersion ? { imagingStudyVersion: study.imagingStudyVersion } : {}) });
  // Learned from FHIR_URL: later notifications about this ImagingStudy fold with triggers by UID.
  if (study.imagingStudyId) await deps.memory.learnAlias(study.imagingStudyId, studyKey);
  await ctx.lockStudy(studyKey);

  const fhir = deps.fhir;
  const task: TaskContext | undefined = fhir && study.imagingStudyId
    ? { jobKey, imagingStudyId: study.imagingStudyId, ...(study.patientReference ? { patientReference: study.patientReference } : {}) }
    : undefined;
  const rememberVersion = async () => {
    if (study.imagingStudyId && study.imagingStudyVersion) await deps.memory.recordImagingStudyVersion(study.imagingStudyId, study.imagingStudyVersion);
  };

  try {
    // Opening checks the allow-list: every server the study names is vetted before anything is fetched.
    const dicomweb = deps.openDicomweb(study.dicomwebBaseUrl);
    for (const base of Object.values(study.seriesDicomwebBaseUrls ?? {})) deps.openDicomweb(base);
    await ctx.progress('list-series', 5);
    const listed = await timer.time('list-series', () => dicomweb.searchSeries(study.studyInstanceUid, {}, { signal: ctx.signal }));
    // QIDO answers an unknown study with no series (Orthanc) or 404 (the client maps that itself).
    if (listed.length === 0) throw new StudyNotFoundError();
    const modalities = distinct(listed.map((s) => (firstString(s, Tag.Modality) ?? '').toUpperCase()));
    await ctx.note({ modalities });
    const selected = selectSeries(listed, deps.seriesRule);
    if (selected.length === 0) {
      if (fhir && task) {
        await timer.time('fhir-status', () => markTaskRejected(fhir, task, {
          reasonCode: 'NO_IMAGE_SERIES',
          reasonText: `The study has no image series to analyze (series modalities: ${modalities.join(', ') || 'none'})`,
        }));
      }
      await rememberVersion();
      return { end: { outcome: 'no-image-series' }, timingsMs: timings() };
    }

    const planned = await timer.time('plan', () => planSeries(selected, study, deps, ctx.signal));
    const noProfileModalities = distinct(planned.filter((p) => !p.hasTasks).map((p) => p.series.modality));
    await ctx.note({ unmatchedModalities: noProfileModalities });
    const toAnalyze = planned.filter((p) => p.hasTasks);
    if (toAnalyze.length === 0) {
      if (fhir && task) await timer.time('fhir-status', () => markTaskCompleted(fhir, task, { noProfileModalities }));
      await rememberVersion();
      return { end: { outcome: 'no-matching-profile' }, timingsMs: timings() };
    }

    const identity = inputIdentity(study.studyInstanceUid, toAnalyze.map((p) => ({
      seriesInstanceUid: p.series.seriesInstanceUid,
      sopInstanceUids: p.metadata.map((m) => firstString(m, Tag.SOPInstanceUID) ?? ''),
    })), deps.results?.analysisVersion ?? deps.modelVersion);
    await ctx.note({ inputIdentity: identity });
    const prior = await deps.memory.runForIdentity(identity);
    if (prior === ctx.runId && (await deps.outputs.has(ctx.runId))) {
      // An earlier attempt of this run persisted its outputs and stopped before handing them on.
      return { end: { next: 'publish' }, timingsMs: timings() };
    }
    if (prior && prior !== ctx.runId) {
      const unchanged = await reuseEarlierRun(prior, deps);
      if (unchanged) {
        log.info({ resultsOf: prior }, 'input unchanged since an earlier run');
        await rememberVersion();
        return { end: { outcome: 'unchanged', resultsOf: prior }, timingsMs: timings() };
      }
    }

    if (fhir && task) await timer.time('fhir-status', () => markTaskInProgress(fhir, task));
    const series: IngestedSeries[] = [];
    for (const [index, p] of toAnalyze.entries()) {
      await ctx.progress('retrieve', 10 + Math.round((40 * index) / toAnalyze.length));
      const client = deps.openDicomweb(study.seriesDicomwebBaseUrls?.[p.series.seriesInstanceUid] ?? study.dicomwebBaseUrl);
      const ingested = await timer.time('retrieve', () =>
        ingestSeries(client, deps.codecs, study.studyInstanceUid, p.series.seriesInstanceUid, ctx.signal, p.metadata));
      timer.split('retrieve', 'decode', ingested.decodeMs);
      const priors = priorsWanted(deps, p.metadata[0]);
      if (priors && p.metadata[0]) {
        const found = await timer.time('priors', () => findPriorImages(client, deps.codecs, deps.seriesRule, {
          studyInstanceUid: study.studyInstanceUid, seriesMetadata: p.metadata[0]!, ...priors,
        }, ctx.signal));
        if (found) ingested.priors = found;
      }
      series.push(ingested);
    }
    await ctx.note({ series: series.map((s) => s.summary) });
    log.info({ series: series.map((s) => s.summary) }, 'study ingested');

    const requestedAt = new Date(ctx.data.requestedAt);
    const analysis: AnalysisOutputs = deps.results
      ? await deps.results.analyze({
        jobKey, study, series, time: timer.time, reportProgress: ctx.progress, signal: ctx.signal,
        ...(Number.isNaN(requestedAt.getTime()) ? {} : { requestedAt }),
      })
      : { dicomObjects: [], tasks: 0, engineCalls: 0 };

    await ctx.progress('persist', 85);
    const outputs: RunOutputs = {
      jobKey,
      dicomwebBaseUrl: study.dicomwebBaseUrl,
      ...(study.imagingStudyId ? { imagingStudyId: study.imagingStudyId } : {}),
      ...(study.patientReference ? { patientReference: study.patientReference } : {}),
      noProfileModalities,
      tasks: analysis.tasks,
      dicomObjects: analysis.dicomObjects,
      ...(analysis.fhirInput ? { fhirInput: analysis.fhirInput } : {}),
      ...(analysis.modelNotes ? { modelNotes: analysis.modelNotes } : {}),
    };
    await timer.time('persist', () => deps.outputs.put(ctx.runId, serializeRunOutputs(outputs)));
    await deps.memory.recordAnalysis(ctx.runId, identity, jobKey);
    return { end: { next: 'publish' }, timingsMs: timings(), engineCalls: analysis.engineCalls };
  } catch (thrown) {
    const error = toAppError(thrown);
    // A run stopped by shutdown (or that lost its lock) goes back to the queue: the Task stays as it is.
    if (fhir && task && !ctx.signal.aborted) await showFailureOnTask(fhir, task, ctx.decide(error), error, log);
    throw error;
  }
}

/** The largest `priors` option of the series' report tasks (absent when none asks for a prior). */
function priorsWanted(deps: AnalyzeStudyDeps, first: DicomJsonDataset | undefined): PriorsOption | undefined {
  if (!deps.results || !first) return undefined;
  const wanted = deps.results.tasksFor({
    modality: firstString(first, Tag.Modality) ?? '',
    bodyPartExamined: firstString(first, Tag.BodyPartExamined),
    seriesDescription: firstString(first, Tag.SeriesDescription),
  }).flatMap((t) => (t.kind === 'report' && t.priors ? [t.priors] : []));
  if (wanted.length === 0) return undefined;
  return { count: Math.max(...wanted.map((w) => w.count)), sameModality: wanted.every((w) => w.sameModality) };
}

/** Series metadata, and whether any task profile applies (without a result stage, every series is ingested). */
async function planSeries(selected: SelectedSeries[], study: ResolvedStudy, deps: AnalyzeStudyDeps, signal: AbortSignal): Promise<PlannedSeries[]> {
  const planned: PlannedSeries[] = [];
  for (const series of selected) {
    const client = deps.openDicomweb(study.seriesDicomwebBaseUrls?.[series.seriesInstanceUid] ?? study.dicomwebBaseUrl);
    const metadata = await client.retrieveSeriesMetadata(study.studyInstanceUid, series.seriesInstanceUid, { signal });
    const first = metadata[0];
    const hasTasks = !deps.results || deps.results.tasksFor({
      modality: (first && firstString(first, Tag.Modality)) || series.modality,
      bodyPartExamined: first && firstString(first, Tag.BodyPartExamined),
      seriesDescription: first && firstString(first, Tag.SeriesDescription),
    }).length > 0;
    planned.push({ series, metadata, hasTasks });
  }
  return planned;
}

/**
 * An earlier run analyzed the same input: its results stand when they were published or are being
 * published; when its publishing failed and its outputs are still kept, publishing them again is enough.
 */
async function reuseEarlierRun(runId: string, deps: AnalyzeStudyDeps): Promise<boolean> {
  const run = await deps.runs.get(runId);
  if (!run) return false;
  if (run.state === 'completed') return run.outcome === 'published' || run.outcome === 'unchanged';
  if (run.stage !== 'publish') return false;
  if (run.state === 'queued' || run.state === 'running' || run.state === 'retrying') return true;
  if (!(await deps.outputs.has(runId))) return false;
  await deps.replayPublish(runId);
  return true;
}

/** The Task of a run given up outside its processor (its workers died too often). */
export async function failTask(fhir: FhirClient, jobKey: string, errorCode: string): Promise<void> {
  const task = await findTask(fhir, jobKey);
  const imagingStudyId = task?.focus?.reference?.split('/')[1];
  if (!task || !imagingStudyId) return;
  await markTaskFailed(fhir, { jobKey, imagingStudyId, ...(task.for?.reference ? { patientReference: task.for.reference } : {}) }, { errorCode });
}

function distinct(values: string[]): string[] {
  return [...new Set(values.filter((v) => v.length > 0))].sort();
}
