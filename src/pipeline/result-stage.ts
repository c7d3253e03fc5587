import { createHash } from 'node:crypto';
import { firstString, Tag } from '../dicom/dicom-json.ts';
import type { ResultAlgorithm } from '../dicom/writers/result-common.ts';
import { buildAnswerBundle } from '../fhir/builders/build-answer-bundle.ts';
import { buildAiResultBundle } from '../fhir/builders/build-result-bundle.ts';
import type { ResourceValidator } from '../fhir/validate-resource.ts';
import type { Engine } from '../model/types.ts';
import type { Logger } from '../shared/logger.ts';
import { analyzeSeries } from './analyze-series.ts';
import { cleanModelText } from './clean-model-text.ts';
import { sliceToModelImage } from './model-io/model-input-image.ts';
import { assembleResults, toFhirResultInput } from './assemble-results.ts';
import type { ResultStage } from './result-stage-contract.ts';
import { matchTasks, type TaskProfiles } from './task-profiles/index.ts';

export interface ResultStageDeps {
  engine: Engine;
  profiles: TaskProfiles;
  /** Absent: DICOM results only (no FHIR server configured). */
  fhir?: { validator: ResourceValidator };
  algorithm: ResultAlgorithm;
  manufacturer: string;
  /** FHIR_PERFORMER_*: the organization running the service, the report's performer. */
  performer?: { reference?: string; display?: string };
  logger: Logger;
  now?: () => Date;
}

/**
 * Model and builders: run the matched tasks, build and validate every DICOM object and the FHIR result
 * bundle (nothing invalid is ever persisted or sent). Sending is the publish stage's work.
 */
export function createResultStage(deps: ResultStageDeps): ResultStage {
  const now = deps.now ?? (() => new Date());
  const model = deps.engine.modelInfo();
  const profilesHash = createHash('sha256').update(JSON.stringify(deps.profiles)).digest('hex').slice(0, 16);
  return {
    analysisVersion: `${model.name}@${model.version}|profiles:${profilesHash}`,
    tasksFor: (series) => matchTasks(deps.profiles, series),
    async analyze({ jobKey, study, series, time, reportProgress, signal, requestedAt }) {
      // Content dates come from the run, not the attempt: a rerun builds byte-identical instances.
      const createdAt = requestedAt ?? now();
      const counted = countEngineCalls(deps.engine);
      const analyzed = await time('model', () =>
        analyzeSeries(
          series.map((s) => ({
            volume: s.volume,
            metadata: s.metadata,
            ...(s.priors ? { priors: s.priors } : {}),
            ...optional('bodyPartExamined', s.metadata[0] && firstString(s.metadata[0], Tag.BodyPartExamined)),
            ...optional('seriesDescription', s.metadata[0] && firstString(s.metadata[0], Tag.SeriesDescription)),
          })),
          { engine: counted.engine, profiles: deps.profiles, jobKey, signal, onProgress: (f) => void reportProgress('model', 50 + Math.round(30 * f)).catch(() => undefined) },
        ),
      );
      const tasks = analyzed.reduce((n, a) => n + a.outcomes.reports.length + a.outcomes.segmentations.length + a.outcomes.translations.length, 0);
      if (analyzed.length === 0) return { dicomObjects: [], tasks, engineCalls: counted.calls() };

      const results = await time('dicom-build', async () => assembleResults(analyzed, { jobKey, createdAt, algorithm: deps.algorithm }));
      const notes = results.analyses.length > 0 || results.reportsCutByTokenLimit.length > 0
        ? { modelNotes: { analyses: results.analyses, reportsCutByTokenLimit: results.reportsCutByTokenLimit } }
        : {};
      if (!deps.fhir || !study.imagingStudyId) return { dicomObjects: results.dicomObjects, tasks, engineCalls: counted.calls(), ...notes };
      const fhirInput = toFhirResultInput(results, {
        jobKey,
        imagingStudyId: study.imagingStudyId,
        ...(study.patientReference ? { subjectReference: study.patientReference } : {}),
        model: { name: model.name, version: model.version, manufacturer: deps.manufacturer },
        recordedAt: createdAt.toISOString(),
        wadoBaseUrl: study.dicomwebBaseUrl,
        ...(study.reportContext ? { study: study.reportContext } : {}),
        ...(deps.performer ? { performer: deps.performer } : {}),
      });
      const validator = deps.fhir.validator;
      await time('fhir-build', async () => validator.assertValidBundle(buildAiResultBundle(fhirInput).bundle));
      return { dicomObjects: results.dicomObjects, fhirInput, tasks, engineCalls: counted.calls(), ...notes };
    },
    async answer({ jobKey, study, series, sliceIndices, question, maxNewTokens, priorImages, provenanceNotes, askTaskId, signal, requestedAt }) {
      const counted = countEngineCalls(deps.engine);
      const images = [...(priorImages ?? []), ...sliceIndices.map((k) => sliceToModelImage(series.volume, k))];
      const result = await counted.engine.understand({ images, prompt: question, maxNewTokens, signal });
      const answer = cleanModelText(result.text);
      if (!deps.fhir || !study.imagingStudyId) return { answer, engineCalls: counted.calls() };
      const fhir = buildAnswerBundle({
        jobKey, imagingStudyId: study.imagingStudyId,
        ...(study.patientReference ? { subjectReference: study.patientReference } : {}),
        model: { name: model.name, version: model.version, manufacturer: deps.manufacturer },
        question, answer, recordedAt: (requestedAt ?? now()).toISOString(),
        ...(study.reportContext?.started ? { studyStarted: study.reportContext.started } : {}),
        ...(provenanceNotes?.length ? { provenanceNotes } : {}),
        ...(askTaskId ? { askTaskId } : {}),
      });
      deps.fhir.validator.assertValidBundle(fhir.bundle);
      return { answer, fhir, engineCalls: counted.calls() };
    },
  };
}

/** The engine with a count of its calls (the run record shows how often a run used the model). */
function countEngineCalls(engine: Engine): { engine: Engine; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    engine: {
      understand: (request) => {
        calls += 1;
        return engine.understand(request);
      },
      generate: (request) => {
        calls += 1;
        return engine.generate(request);
      },
      modelInfo: () => engine.modelInfo(),
      close: () => engine.close(),
    },
  };
}

function optional<K extends string>(key: K, value: string | undefined | 0 | ''): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
