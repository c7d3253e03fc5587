import { resultKindOf } from '../dicom/sop-classes.ts';
import { RESEARCH_USE_LABEL } from '../shared/research-use-notice.ts';
import { firstString, Tag, type DicomJsonDataset } from '../dicom/dicom-json.ts';
import type { Volume } from '../dicom/volume/volume.ts';
import { buildDerivedImage } from '../dicom/writers/build-derived-image.ts';
import { buildReportSR } from '../dicom/writers/build-report-sr.ts';
import { buildSegmentation } from '../dicom/writers/build-segmentation.ts';
import { rgbToDicomLab } from '../dicom/writers/cielab.ts';
import type { DicomResultObject, ResultAlgorithm } from '../dicom/writers/result-common.ts';
import type { AiResultInput, MeasurementInput } from '../fhir/builders/result-input.ts';
import { hashStudyUid } from '../shared/uids.ts';
import type { ReportOutcome, SeriesOutcomes, SegmentationOutcome } from './run-series-tasks.ts';

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
  /** The DICOM Study Date as a FHIR date (no time: DICOM times carry no zone unless told), when valid. */
  studyDate?: string;
  /** analyze-first answers the generations used (task profile option analyzeFirst), in order */
  analyses: TaskAnalysis[];
  /** ids of report tasks whose text stopped at the token limit */
  reportsCutByTokenLimit: string[];
}

export interface TaskAnalysis {
  taskId: string;
  sliceIndex: number;
  text: string;
  cutByTokenLimit: boolean;
}

/** Appended to a report the token limit cut, so a reader of the draft knows it may be incomplete. */
export const CUT_BY_TOKEN_LIMIT_NOTICE = '[AI draft stopped at its token limit; it may be incomplete.]';

export interface AssembleContext {
  jobKey: string;
  createdAt: Date;
  algorithm: ResultAlgorithm;
}

const MEASUREMENT_SYSTEM = 'urn:unimedvl-plugin:measurement';
// The SNOMED CT properties DICOM uses for these measurements (CID 7469 Generic Intensity and Size Measurements).
const VOLUME_PROPERTY = { system: 'http://snomed.info/sct', code: '118565006', display: 'Volume' };
const AREA_PROPERTY = { system: 'http://snomed.info/sct', code: '42798000', display: 'Area' };

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
  const analyses: TaskAnalysis[] = [];
  const reportsCutByTokenLimit: string[] = [];

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
        analyses.push(...outcome.analyses.map((a) => ({ taskId: outcome.task.id, sliceIndex: a.sliceIndex, text: a.text, cutByTokenLimit: a.cutByTokenLimit })));
        measurements.push(measureSegmentation(outcome, s.volume, `${seriesRole}:${outcome.task.id}`));
        prompts.push(outcome.task.prompt);
      }
    }
    for (const outcome of s.outcomes.translations) {
      analyses.push(...outcome.analyses.map((a) => ({ taskId: outcome.task.id, sliceIndex: a.sliceIndex, text: a.text, cutByTokenLimit: a.cutByTokenLimit })));
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
      for (const r of s.outcomes.reports) if (r.cutByTokenLimit) reportsCutByTokenLimit.push(r.task.id);
      const text = reportSectionText(s.outcomes.reports);
      reportSections.push({ heading, text });
      dicomObjects.push(buildReportSR({
        source,
        context: { ...resultContext, seriesNumber: resultContext.seriesNumber + 3 },
        role: `${seriesRole}:sr`,
        reportText: text,
        sourceSliceIndices: [...new Set(s.outcomes.reports.flatMap((r) => r.sliceIndices))].sort((a, b) => a - b),
      }));
      prompts.push(...s.outcomes.reports.map((r) => r.prompt));
    }
  }

  const reportText = reportSections.length === 1
    ? reportSections[0]!.text
    : reportSections.map((section) => `${section.heading}:\n${section.text}`).join('\n\n');
  const studyDate = fhirDateOf(series[0]?.metadata[0] ? firstString(series[0].metadata[0], Tag.StudyDate) : undefined);
  return { dicomObjects, reportSections, reportText, prompts: [...new Set(prompts)], measurements, analyses, reportsCutByTokenLimit, ...(studyDate ? { studyDate } : {}) };
}

/** The report tasks' texts of one series; a text the token limit cut says so. */
export function reportSectionText(reports: ReadonlyArray<Pick<ReportOutcome, 'text' | 'cutByTokenLimit'>>): string {
  return reports.map((r) => (r.cutByTokenLimit ? `${r.text}\n${CUT_BY_TOKEN_LIMIT_NOTICE}` : r.text)).join('\n\n');
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
      alsoCoded: [VOLUME_PROPERTY],
      value: round(areaMm2 * thickness),
      unit: 'mm3',
      bodySite,
    };
  }
  return {
    key,
    code: { system: MEASUREMENT_SYSTEM, code: 'segmented-area', display: `Segmented area on ${outcome.sliceIndices.length} key slice(s): ${structure.label}` },
    alsoCoded: [AREA_PROPERTY],
    value: round(areaMm2),
    unit: 'mm2',
    bodySite,
  };
}

/** DICOM DA `YYYYMMDD` as FHIR `YYYY-MM-DD`; anything else is no date. */
function fhirDateOf(da: string | undefined): string | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(da?.trim() ?? '');
  if (!match) return undefined;
  const [, y, m, d] = match;
  const date = new Date(`${y}-${m}-${d}T00:00:00Z`);
  return Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(d) ? undefined : `${y}-${m}-${d}`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The FHIR result input for a job's assembled results. */
export function toFhirResultInput(
  results: AssembledResults,
  input: {
    jobKey: string; imagingStudyId: string; subjectReference?: string; model: AiResultInput['model']; recordedAt: string; wadoBaseUrl?: string;
    /** From the ImagingStudy (started, orders, encounter); `started` falls back to the DICOM study date. */
    study?: Omit<AiResultInput['imagingStudy'], 'id' | 'subjectReference'>;
    performer?: AiResultInput['performer'];
  },
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
    imagingStudy: {
      id: input.imagingStudyId,
      ...(input.subjectReference ? { subjectReference: input.subjectReference } : {}),
      ...input.study,
      ...(input.study?.started ?? results.studyDate ? { started: input.study?.started ?? results.studyDate } : {}),
    },
    ...(input.performer ? { performer: input.performer } : {}),
    model: input.model,
    reportText: results.reportText,
    prompt: results.prompts.join('\n---\n'),
    ...(results.analyses.length > 0
      ? { analysis: results.analyses.map((a) => `${a.taskId}, slice ${a.sliceIndex + 1}${a.cutByTokenLimit ? ' (stopped at its token limit)' : ''}:\n${a.text}`).join('\n---\n') }
      : {}),
    measurements: results.measurements,
    dicomObjects,
    keyImages,
    recordedAt: input.recordedAt,
  };
}
