import { resultKindOf } from '../dicom/sop-classes.ts';
import { RESEARCH_USE_LABEL } from '../shared/research-use-notice.ts';
import type { DicomJsonDataset } from '../dicom/dicom-json.ts';
import type { Volume } from '../dicom/volume/volume.ts';
import { buildDerivedImage } from '../dicom/writers/build-derived-image.ts';
import { buildReportSR } from '../dicom/writers/build-report-sr.ts';
import { buildSegmentation } from '../dicom/writers/build-segmentation.ts';
import { rgbToDicomLab } from '../dicom/writers/cielab.ts';
import type { DicomResultObject, ResultAlgorithm } from '../dicom/writers/result-common.ts';
import type { AiResultInput, MeasurementInput } from '../fhir/builders/result-input.ts';
import { hashStudyUid } from '../shared/uids.ts';
import type { SeriesOutcomes, SegmentationOutcome } from './run-series-tasks.ts';

export interface AnalyzedSeries {
  volume: Volume;
  metadata: DicomJsonDataset[];
  outcomes: SeriesOutcomes;
}

export interface AssembledResults {
  dicomObjects: DicomResultObject[];
  /** Report sections, one per report task and series, in order. */
  reportSections: { heading: string; text: string }[];
  reportText: string;
  prompts: string[];
  measurements: MeasurementInput[];
}

export interface AssembleContext {
  jobKey: string;
  createdAt: Date;
  algorithm: ResultAlgorithm;
}

const MEASUREMENT_SYSTEM = 'urn:unimedvl-plugin:measurement';

/**
 * The DICOM objects and report content of a job, built from the model's outcomes. Builders validate
 * each object as they build it, so an invalid object fails the job here, before anything is sent.
 * Roles carry a hash of the series, so every object has its own stable UIDs across retries.
 */
export function assembleResults(series: readonly AnalyzedSeries[], context: AssembleContext): AssembledResults {
  const dicomObjects: DicomResultObject[] = [];
  const reportSections: { heading: string; text: string }[] = [];
  const prompts: string[] = [];
  const measurements: MeasurementInput[] = [];

  for (const [index, s] of series.entries()) {
    const source = { geometry: s.volume, instances: s.metadata };
    const seriesRole = hashStudyUid(s.volume.seriesInstanceUid).slice(0, 12);
    const resultContext = { jobKey: context.jobKey, createdAt: context.createdAt, algorithm: context.algorithm, seriesNumber: 9000 + index * 10 };
    const heading = `${s.volume.modality} series ${index + 1}`;

    if (s.outcomes.segmentations.length > 0) {
      dicomObjects.push(buildSegmentation({
        source,
        context: { ...resultContext, seriesNumber: resultContext.seriesNumber + 1 },
        role: `${seriesRole}:seg`,
        segments: s.outcomes.segmentations.map((outcome) => ({
          label: outcome.task.structure.label,
          category: outcome.task.structure.category,
          type: outcome.task.structure.type,
          algorithm: { name: context.algorithm.modelName, version: context.algorithm.softwareVersion },
          cieLab: rgbToDicomLab(outcome.task.structure.colour),
          description: `${outcome.task.id}: AI-generated, ${RESEARCH_USE_LABEL}`,
          masks: outcome.masks,
        })),
      }));
      for (const outcome of s.outcomes.segmentations) {
        measurements.push(measureSegmentation(outcome, s.volume, `${seriesRole}:${outcome.task.id}`));
        prompts.push(outcome.task.prompt);
      }
    }
    for (const outcome of s.outcomes.translations) {
      dicomObjects.push(buildDerivedImage({
        source,
        context: { ...resultContext, seriesNumber: resultContext.seriesNumber + 2 },
        role: `${seriesRole}:${outcome.task.id}`,
        what: outcome.task.outputLabel,
        sourceSliceIndices: outcome.sliceIndices,
        image: { rows: outcome.rows, columns: outcome.columns, format: 'GREY8', frames: outcome.frames },
      }));
      prompts.push(outcome.task.prompt);
    }
    if (s.outcomes.reports.length > 0) {
      const text = s.outcomes.reports.map((r) => r.text).join('\n\n');
      reportSections.push({ heading, text });
      dicomObjects.push(buildReportSR({
        source,
        context: { ...resultContext, seriesNumber: resultContext.seriesNumber + 3 },
        role: `${seriesRole}:sr`,
        reportText: text,
        sourceSliceIndices: [...new Set(s.outcomes.reports.flatMap((r) => r.sliceIndices))].sort((a, b) => a - b),
      }));
      prompts.push(...s.outcomes.reports.map((r) => r.task.prompt));
    }
  }

  const reportText = reportSections.length === 1
    ? reportSections[0]!.text
    : reportSections.map((section) => `${section.heading}:\n${section.text}`).join('\n\n');
  return { dicomObjects, reportSections, reportText, prompts: [...new Set(prompts)], measurements };
}

/** Segmented area on the processed slices (mm2), or the volume (mm3) when every slice of a volume was segmented. */
function measureSegmentation(outcome: SegmentationOutcome, volume: Volume, key: string): MeasurementInput {
  const [rowSpacing, columnSpacing] = volume.pixelSpacing ?? [1, 1];
  let voxels = 0;
  for (const mask of outcome.masks) if (mask) for (const v of mask) voxels += v;
  const areaMm2 = voxels * rowSpacing * columnSpacing;
  const structure = outcome.task.structure;
  const bodySite = { system: 'http://snomed.info/sct', code: structure.type.value, display: structure.type.meaning };
  const whole = volume.depth > 1 && outcome.sliceIndices.length === volume.depth;
  const thickness = volume.spacingBetweenSlices ?? volume.sliceThickness;
  if (whole && thickness !== undefined) {
    return {
      key,
      code: { system: MEASUREMENT_SYSTEM, code: 'segmented-volume', display: `Segmented volume: ${structure.label}` },
      value: round(areaMm2 * thickness),
      unit: 'mm3',
      bodySite,
    };
  }
  return {
    key,
    code: { system: MEASUREMENT_SYSTEM, code: 'segmented-area', display: `Segmented area on ${outcome.sliceIndices.length} key slice(s): ${structure.label}` },
    value: round(areaMm2),
    unit: 'mm2',
    bodySite,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The FHIR result input for a job's assembled results. */
export function toFhirResultInput(
  results: AssembledResults,
  input: { jobKey: string; imagingStudyId: string; subjectReference?: string; model: AiResultInput['model']; recordedAt: string; wadoBaseUrl?: string },
): AiResultInput {
  const dicomObjects = results.dicomObjects.map((o) => ({ kind: resultKindOf(o.sopClassUid), sopInstanceUid: o.sopInstanceUid, seriesInstanceUid: o.seriesInstanceUid }));
  const keyImages = results.dicomObjects
    .filter((o) => resultKindOf(o.sopClassUid) !== 'SR')
    .slice(0, 2)
    .map((o) => ({
      key: o.role,
      sopInstanceUid: o.sopInstanceUid,
      contentType: 'application/dicom',
      title: resultKindOf(o.sopClassUid) === 'SEG' ? 'AI segmentation (DICOM SEG)' : 'AI-generated image (DICOM SC)',
      ...(input.wadoBaseUrl ? { url: `${input.wadoBaseUrl}/studies/${o.studyInstanceUid}/series/${o.seriesInstanceUid}/instances/${o.sopInstanceUid}` } : {}),
    }));
  return {
    jobKey: input.jobKey,
    imagingStudy: { id: input.imagingStudyId, ...(input.subjectReference ? { subjectReference: input.subjectReference } : {}) },
    model: input.model,
    reportText: results.reportText,
    prompt: results.prompts.join('\n---\n'),
    measurements: results.measurements,
    dicomObjects,
    keyImages,
    recordedAt: input.recordedAt,
  };
}
