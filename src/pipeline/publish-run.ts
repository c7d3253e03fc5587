import type { DicomwebClient } from '../dicom/dicomweb/dicomweb-client.ts';
import { storeResults } from '../dicom/dicomweb/store-results.ts';
import { buildAiResultBundle } from '../fhir/builders/build-result-bundle.ts';
import type { FhirClient } from '../fhir/fhir-client.ts';
import { markTaskCompleted, type TaskContext } from '../fhir/task-status.ts';
import type { ResourceValidator } from '../fhir/validate-resource.ts';
import { writeAiResults } from '../fhir/write-results.ts';
import type { PublishJobData } from '../queue/job-types.ts';
import type { RunRecord, RunResults } from '../queue/run-record.ts';
import type { ResultsStore } from '../queue/results-store.ts';
import type { StageContext, StageProcessor, StageResult } from '../queue/stage-worker.ts';
import type { StudyMemory } from '../queue/study-memory.ts';
import { ResultsMissingError, toAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { failTask } from './analyze-study.ts';
import { deserializeRunOutputs } from './run-outputs.ts';
import { showFailureOnTask } from './run-task.ts';
import { createStageTimer } from './stage-timer.ts';

export interface PublishRunDeps {
  logger: Logger;
  /** Absent: DICOM results only (no FHIR server configured). */
  fhir?: { client: FhirClient; validator: ResourceValidator };
  openDicomweb(baseUrl: string): DicomwebClient;
  outputs: Pick<ResultsStore, 'get' | 'delete'>;
  memory: Pick<StudyMemory, 'latestRun' | 'recordImagingStudyVersion'>;
  runs: { get(id: string): Promise<RunRecord | undefined> };
}

/**
 * The publish stage: read the run's persisted outputs, store the DICOM objects (STOW-RS), write the
 * FHIR results (one transaction) and complete the Task. No model: a retry resends the same bytes and
 * the same conditional writes, so it never writes twice. Under the study lock, and only for the newest
 * analyzed run of its result identity, so an older draft never replaces a newer one.
 */
export function createPublishProcessor(deps: PublishRunDeps): StageProcessor<PublishJobData> {
  return {
    run: (ctx) => publishRun(ctx, deps),
    async abandoned(runId, errorCode) {
      const run = await deps.runs.get(runId);
      if (deps.fhir && run?.jobKey) await failTask(deps.fhir.client, run.jobKey, errorCode);
    },
  };
}

async function publishRun(ctx: StageContext<PublishJobData>, deps: PublishRunDeps): Promise<StageResult> {
  const timer = createStageTimer();
  const log = deps.logger.child({ runId: ctx.runId });
  const run = await deps.runs.get(ctx.runId);
  const persisted = await timer.time('load', () => deps.outputs.get(ctx.runId));
  if (!run?.studyKey || !persisted) throw new ResultsMissingError();
  const outputs = deserializeRunOutputs(persisted);
  await ctx.lockStudy(run.studyKey);

  if ((await deps.memory.latestRun(outputs.jobKey)) !== ctx.runId) {
    await deps.outputs.delete(ctx.runId);
    log.info('a newer run of this study was analyzed: this one is not sent');
    return { end: { outcome: 'superseded' }, timingsMs: timer.timings };
  }

  const fhir = deps.fhir;
  const task: TaskContext | undefined = fhir && outputs.imagingStudyId
    ? { jobKey: outputs.jobKey, imagingStudyId: outputs.imagingStudyId, ...(outputs.patientReference ? { patientReference: outputs.patientReference } : {}) }
    : undefined;
  try {
    let dicomObjects: RunResults['dicomObjects'] = [];
    if (outputs.dicomObjects.length > 0) {
      await ctx.progress('dicom-write', 90);
      const dicomweb = deps.openDicomweb(outputs.dicomwebBaseUrl);
      // One try per attempt: the stage's own retries (hours, with backoff) cover outages.
      const stored = await timer.time('dicom-write', () =>
        storeResults({ stow: dicomweb, logger: deps.logger }, outputs.dicomObjects, { signal: ctx.signal, maxAttempts: 1 }));
      dicomObjects = stored.instances.map((i) => ({ role: i.role, outcome: i.outcome }));
    }
    let diagnosticReportId: string | undefined;
    if (fhir && outputs.fhirInput) {
      await ctx.progress('fhir-write', 95);
      const input = outputs.fhirInput;
      diagnosticReportId = (await timer.time('fhir-write', () => writeAiResults(fhir, buildAiResultBundle(input)))).diagnosticReportId;
    }
    let taskId: string | undefined;
    if (fhir && task) {
      const completed = await timer.time('fhir-status', () => markTaskCompleted(fhir.client, task, {
        ...(diagnosticReportId ? { diagnosticReportId } : {}), noProfileModalities: outputs.noProfileModalities,
      }));
      taskId = completed.id;
    }
    await deps.outputs.delete(ctx.runId);
    if (outputs.imagingStudyId && run.imagingStudyVersion) {
      await deps.memory.recordImagingStudyVersion(outputs.imagingStudyId, run.imagingStudyVersion);
    }
    const results: RunResults = {
      tasks: outputs.tasks,
      dicomObjects,
      ...(diagnosticReportId ? { diagnosticReport: `DiagnosticReport/${diagnosticReportId}` } : {}),
      ...(taskId ? { task: `Task/${taskId}` } : {}),
    };
    return { end: { outcome: 'published', results }, timingsMs: timer.timings };
  } catch (thrown) {
    const error = toAppError(thrown);
    if (fhir && task && !ctx.signal.aborted) await showFailureOnTask(fhir.client, task, ctx.decide(error), error, log);
    throw error;
  }
}
