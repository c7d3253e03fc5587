import { firstString, Tag } from '../dicom/dicom-json.ts';
import type { StudyJobData, QuestionRequest } from '../queue/job-types.ts';
import type { StageContext, StageResult } from '../queue/stage-worker.ts';
import type { Task } from '@medplum/fhirtypes';
import { failAskTask, withAnswer } from '../fhir/ask-tasks.ts';
import { ConfigInvalidError, ImagingStudyNotFoundError, NoImageSeriesError, QuestionSeriesNotFoundError, QuestionSlicesInvalidError, StudyNotFoundError, toAppError } from '../shared/errors.ts';
import { deriveJobKey, hashStudyUid } from '../shared/uids.ts';
import { writeAnswer } from '../fhir/write-answer.ts';
import type { AnalyzeStudyDeps } from './analyze-study.ts';
import { ingestSeries } from './ingest-series.ts';
import { resolveStudy } from './resolve-study.ts';
import { selectSeries } from './select-series.ts';
import { createStageTimer } from './stage-timer.ts';
import { selectSlices } from './task-profiles/index.ts';

/** Default answer length when the asker names none (the report tasks' default). */
export const QUESTION_MAX_NEW_TOKENS = 512;

/**
 * A question run, in one stage: resolve the study, pick the series (the one asked about, else the first
 * image series), retrieve and decode it, run understanding on the chosen slices (the middle one by default)
 * with the question as the prompt, and write the answer to FHIR as an Observation with its Provenance. It
 * writes nothing into the study's DICOM and takes no study lock: it cannot disturb the study's analysis.
 * The answer is the run's result. A retried attempt asks the model again; the FHIR writes are conditional
 * on the run's job key, so it still writes once.
 */
export async function answerQuestion(ctx: StageContext<StudyJobData>, deps: AnalyzeStudyDeps, question: QuestionRequest): Promise<StageResult> {
  try {
    return await answer(ctx, deps, question);
  } catch (thrown) {
    const error = toAppError(thrown);
    // The asking Task learns of a permanent failure (with the code only); transient ones are retried.
    if (deps.fhir && question.fhirTaskId && !ctx.signal.aborted && ctx.decide(error) !== 'retry') {
      await failAskTask(deps.fhir, question.fhirTaskId, error.code).catch(() => undefined);
    }
    throw error;
  }
}

async function answer(ctx: StageContext<StudyJobData>, deps: AnalyzeStudyDeps, question: QuestionRequest): Promise<StageResult> {
  const timer = createStageTimer();
  const results = deps.results;
  if (!results?.answer) throw new ConfigInvalidError(['MODEL_DIR']);
  await ctx.progress('resolve', 0);
  const study = await timer.time('resolve', () => resolveStudy(ctx.data.study, deps));
  const jobKey = deriveJobKey(study.studyInstanceUid, `question:${ctx.runId}`, deps.modelVersion);
  await ctx.note({ studyKey: hashStudyUid(study.studyInstanceUid), jobKey });

  const dicomweb = deps.openDicomweb(study.dicomwebBaseUrl);
  await ctx.progress('list-series', 5);
  const listed = await timer.time('list-series', () => dicomweb.searchSeries(study.studyInstanceUid, {}, { signal: ctx.signal }));
  if (listed.length === 0) throw new StudyNotFoundError();
  await ctx.note({ modalities: [...new Set(listed.map((s) => (firstString(s, Tag.Modality) ?? '').toUpperCase()).filter(Boolean))].sort() });
  const selected = selectSeries(listed, deps.seriesRule);
  if (selected.length === 0) throw new NoImageSeriesError();
  const chosen = question.seriesInstanceUid === undefined ? selected[0] : selected.find((s) => s.seriesInstanceUid === question.seriesInstanceUid);
  if (!chosen) throw new QuestionSeriesNotFoundError();

  await ctx.progress('retrieve', 10);
  const client = deps.openDicomweb(study.seriesDicomwebBaseUrls?.[chosen.seriesInstanceUid] ?? study.dicomwebBaseUrl);
  const series = await timer.time('retrieve', () => ingestSeries(client, deps.codecs, study.studyInstanceUid, chosen.seriesInstanceUid, ctx.signal));
  timer.split('retrieve', 'decode', series.decodeMs);
  await ctx.note({ series: [series.summary] });
  const depth = series.volume.depth;
  const sliceIndices = question.slices ?? selectSlices(depth, { mode: 'middle' });
  if (sliceIndices.length === 0 || sliceIndices.some((k) => !Number.isInteger(k) || k < 0 || k >= depth)) throw new QuestionSlicesInvalidError();

  await ctx.progress('model', 50);
  const requestedAt = new Date(ctx.data.requestedAt);
  const outputs = await timer.time('model', () => results.answer!({
    jobKey, study, series, sliceIndices, question: question.text, maxNewTokens: question.maxNewTokens ?? QUESTION_MAX_NEW_TOKENS,
    signal: ctx.signal, ...(Number.isNaN(requestedAt.getTime()) ? {} : { requestedAt }),
    ...(question.fhirTaskId ? { askTaskId: question.fhirTaskId } : {}),
  }));

  let written: string | undefined;
  const fhir = deps.fhir;
  if (fhir && deps.fhirValidator && outputs.fhir) {
    await ctx.progress('fhir-write', 90);
    const bundle = outputs.fhir;
    written = await timer.time('fhir-write', async () => {
      const observation = await writeAnswer({ client: fhir, validator: deps.fhirValidator! }, bundle);
      if (!question.fhirTaskId) return observation;
      const task = await fhir.read<Task>('Task', question.fhirTaskId);
      if (!task) throw new ImagingStudyNotFoundError({ detail: 'asking Task gone' });
      await fhir.update<Task>(withAnswer(task, outputs.answer));
      return `Task/${task.id}`;
    });
  }
  return {
    end: { outcome: 'answered', results: { tasks: 1, dicomObjects: [], answer: outputs.answer, ...(written ? { observation: written } : {}) } },
    timingsMs: timer.timings,
    engineCalls: outputs.engineCalls,
  };
}
