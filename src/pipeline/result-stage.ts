import { firstString, Tag } from '../dicom/dicom-json.ts';
import { storeResults } from '../dicom/writers/store-results.ts';
import type { ResultAlgorithm } from '../dicom/writers/result-common.ts';
import { buildAiResultBundle } from '../fhir/builders/build-result-bundle.ts';
import type { FhirClient } from '../fhir/fhir-client.ts';
import type { ResourceValidator } from '../fhir/validate-resource.ts';
import { writeAiResults } from '../fhir/write-results.ts';
import type { Engine } from '../model/types.ts';
import type { Logger } from '../shared/logger.ts';
import type { ResultStage } from './analyze-study.ts';
import { analyseSeries } from './analyse-series.ts';
import { assembleResults, toFhirResultInput } from './assemble-results.ts';
import type { TaskProfiles } from './task-profiles/index.ts';

export interface ResultStageDeps {
  engine: Engine;
  profiles: TaskProfiles;
  /** Absent: DICOM results only (no FHIR server configured). */
  fhir?: { client: FhirClient; validator: ResourceValidator };
  algorithm: ResultAlgorithm;
  manufacturer: string;
  logger: Logger;
  now?: () => Date;
}

/**
 * Model, DICOM and FHIR: run the matched tasks, build and validate every object (nothing is sent if one
 * is invalid), store the DICOM objects into the source study, then write the FHIR results in one
 * transaction. Both writes are idempotent, so a retried job rewrites the same things.
 */
export function createResultStage(deps: ResultStageDeps): ResultStage {
  const now = deps.now ?? (() => new Date());
  return async ({ jobKey, study, series, dicomweb, time, reportProgress, signal, requestedAt }) => {
    // Content dates come from the job, not the attempt: a retry re-sends byte-identical instances.
    const createdAt = requestedAt ?? now();
    const analysed = await time('model', () =>
      analyseSeries(
        series.map((s) => ({
          volume: s.volume,
          metadata: s.metadata,
          ...optional('bodyPartExamined', s.metadata[0] && firstString(s.metadata[0], Tag.BodyPartExamined)),
          ...optional('seriesDescription', s.metadata[0] && firstString(s.metadata[0], Tag.SeriesDescription)),
        })),
        { engine: deps.engine, profiles: deps.profiles, jobKey, signal, onProgress: (f) => void reportProgress('model', 50 + Math.round(30 * f)).catch(() => undefined) },
      ),
    );
    if (analysed.length === 0) return { outputs: { tasks: 0 } };

    const results = await time('dicom-build', async () => assembleResults(analysed, { jobKey, createdAt, algorithm: deps.algorithm }));
    await reportProgress('dicom-write', 85);
    const stored = await time('dicom-write', () => storeResults({ stow: dicomweb, logger: deps.logger }, results.dicomObjects, { signal }));

    let diagnosticReportId: string | undefined;
    if (deps.fhir && study.imagingStudyId) {
      await reportProgress('fhir-write', 92);
      const modelInfo = deps.engine.modelInfo();
      const input = toFhirResultInput(results, {
        jobKey,
        imagingStudyId: study.imagingStudyId,
        ...(study.patientReference ? { subjectReference: study.patientReference } : {}),
        model: { name: modelInfo.name, version: modelInfo.version, manufacturer: deps.manufacturer },
        recordedAt: createdAt.toISOString(),
        wadoBaseUrl: study.dicomwebBaseUrl,
      });
      const fhir = deps.fhir;
      const written = await time('fhir-write', () => writeAiResults(fhir, buildAiResultBundle(input)));
      diagnosticReportId = written.diagnosticReportId;
    }
    return {
      ...(diagnosticReportId ? { diagnosticReportId } : {}),
      outputs: {
        tasks: analysed.reduce((n, a) => n + a.outcomes.reports.length + a.outcomes.segmentations.length + a.outcomes.translations.length, 0),
        dicomObjects: stored.instances.map((i) => ({ role: i.role, outcome: i.outcome })),
        ...(diagnosticReportId ? { diagnosticReport: `DiagnosticReport/${diagnosticReportId}` } : {}),
      },
    };
  };
}

function optional<K extends string>(key: K, value: string | undefined | 0 | ''): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
