// The model's draft report as an Enhanced SR next to the images: root "Diagnostic imaging report"
// (LOINC 18748-4), VerificationFlag UNVERIFIED, the algorithm as device observer, the findings text,
// a research-use notice, and image references to the source.
import { RESEARCH_USE_STATEMENT } from '../../shared/research-use-notice.ts';
import type { DicomJsonDataset } from '../dicom-json.ts';
import { SOP_CLASS } from '../sop-classes.ts';
import { DicomObjectInvalidError } from '../../shared/errors.ts';
import type { CodedConcept } from './dataset-elements.ts';
import { codeItem, item, put, putSequence } from './dataset-elements.ts';
import type { DicomResultObject, ResultContext } from './result-common.ts';
import {
  aiSeriesDescription, deriveResultUids, putCharacterSet, putContentDateTime, putEquipment, serialize,
} from './result-common.ts';
import type { SourceFrame, SourceSeries } from './source-series.ts';
import { copyPatientAndStudy, resolveSourceFrames, sourceSeriesLabel } from './source-series.ts';
import { checkValues, requireAttributes } from './validate-dataset.ts';

export const ENHANCED_SR_STORAGE = SOP_CLASS.EnhancedSRStorage;

const DIAGNOSTIC_IMAGING_REPORT: CodedConcept = { value: '18748-4', scheme: 'LN', meaning: 'Diagnostic imaging report' };
const OBSERVER_TYPE: CodedConcept = { value: '121005', scheme: 'DCM', meaning: 'Observer Type' };
const DEVICE: CodedConcept = { value: '121007', scheme: 'DCM', meaning: 'Device' };
const DEVICE_OBSERVER_UID: CodedConcept = { value: '121012', scheme: 'DCM', meaning: 'Device Observer UID' };
const DEVICE_OBSERVER_NAME: CodedConcept = { value: '121013', scheme: 'DCM', meaning: 'Device Observer Name' };
const DEVICE_OBSERVER_MANUFACTURER: CodedConcept = { value: '121014', scheme: 'DCM', meaning: 'Device Observer Manufacturer' };
const DEVICE_OBSERVER_MODEL_NAME: CodedConcept = { value: '121015', scheme: 'DCM', meaning: 'Device Observer Model Name' };
const FINDINGS: CodedConcept = { value: '121070', scheme: 'DCM', meaning: 'Findings' };
const FINDING: CodedConcept = { value: '121071', scheme: 'DCM', meaning: 'Finding' };
const COMMENT: CodedConcept = { value: '121106', scheme: 'DCM', meaning: 'Comment' };
const SOURCE_IMAGE: CodedConcept = { value: '121324', scheme: 'DCM', meaning: 'Source image' };

export interface ReportSrInput {
  source: SourceSeries;
  context: ResultContext;
  /** The model's report text (kept as written; it never reaches logs or errors). */
  reportText: string;
  /** Source slices (spatial indices) to reference; default: every slice. */
  sourceSliceIndices?: readonly number[];
  /** Role used for the UIDs. Default "report-sr". */
  role?: string;
}

function invalid(detail: string): DicomObjectInvalidError {
  return new DicomObjectInvalidError({ detail });
}

function contentItem(
  relationship: string, valueType: string, concept: CodedConcept, value: Record<string, unknown> = {},
): DicomJsonDataset {
  const entry = item({ RelationshipType: relationship, ValueType: valueType, ConceptNameCodeSequence: [codeItem(concept)] });
  Object.assign(entry, value);
  return entry;
}

function text(relationship: string, concept: CodedConcept, value: string): DicomJsonDataset {
  return contentItem(relationship, 'TEXT', concept, item({ TextValue: value }));
}

function imageReference(frame: SourceFrame): DicomJsonDataset {
  return contentItem('CONTAINS', 'IMAGE', SOURCE_IMAGE, item({
    ReferencedSOPSequence: [item({
      ReferencedSOPClassUID: frame.sopClassUid,
      ReferencedSOPInstanceUID: frame.sopInstanceUid,
      ReferencedFrameNumber: frame.multiFrame ? frame.frameNumber : undefined,
    })],
  }));
}

/** Builds, validates and serializes the report SR; throws DicomObjectInvalidError when anything is off. */
export function buildReportSR(input: ReportSrInput): DicomResultObject {
  if (!input.reportText.trim()) throw invalid('report text empty');
  const sources = resolveSourceFrames(input.source);
  const chosen = input.sourceSliceIndices ?? sources.map((s) => s.sliceIndex);
  if (chosen.length === 0 || chosen.some((k) => !Number.isInteger(k) || k < 0 || k >= sources.length)) {
    throw invalid('report source slice out of range');
  }
  const frames = chosen.map((k) => sources[k]!);
  const role = input.role ?? 'report-sr';
  const { seriesInstanceUid, sopInstanceUid } = deriveResultUids(input.context.jobKey, role);
  const { algorithm } = input.context;
  const { geometry } = input.source;

  const ds: DicomJsonDataset = copyPatientAndStudy(input.source);
  put(ds, 'SOPClassUID', [ENHANCED_SR_STORAGE]);
  put(ds, 'SOPInstanceUID', [sopInstanceUid]);
  // SR Document Series
  put(ds, 'Modality', ['SR']);
  put(ds, 'SeriesInstanceUID', [seriesInstanceUid]);
  put(ds, 'SeriesNumber', [input.context.seriesNumber ?? 9103]);
  put(ds, 'SeriesDescription', [aiSeriesDescription('draft report', sourceSeriesLabel(input.source))]);
  putSequence(ds, 'ReferencedPerformedProcedureStepSequence', []);
  putEquipment(ds, input.context);
  // SR Document General
  put(ds, 'InstanceNumber', [1]);
  putContentDateTime(ds, input.context.createdAt);
  put(ds, 'CompletionFlag', ['COMPLETE']);
  put(ds, 'VerificationFlag', ['UNVERIFIED']);
  putSequence(ds, 'PerformedProcedureCodeSequence', []);
  const instances = new Map<string, string>();
  for (const frame of frames) instances.set(frame.sopInstanceUid, frame.sopClassUid);
  putSequence(ds, 'CurrentRequestedProcedureEvidenceSequence', [item({
    StudyInstanceUID: geometry.studyInstanceUid,
    ReferencedSeriesSequence: [item({
      SeriesInstanceUID: geometry.seriesInstanceUid,
      ReferencedSOPSequence: [...instances].map(([uid, cls]) => item({ ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: uid })),
    })],
  })]);
  // SR Document Content: the root container and its tree.
  put(ds, 'ValueType', ['CONTAINER']);
  putSequence(ds, 'ConceptNameCodeSequence', [codeItem(DIAGNOSTIC_IMAGING_REPORT)]);
  put(ds, 'ContinuityOfContent', ['SEPARATE']);
  const findings = contentItem('CONTAINS', 'CONTAINER', FINDINGS, item({ ContinuityOfContent: 'SEPARATE' }));
  putSequence(findings, 'ContentSequence', [text('CONTAINS', FINDING, input.reportText)]);
  putSequence(ds, 'ContentSequence', [
    contentItem('HAS OBS CONTEXT', 'CODE', OBSERVER_TYPE, item({ ConceptCodeSequence: [codeItem(DEVICE)] })),
    contentItem('HAS OBS CONTEXT', 'UIDREF', DEVICE_OBSERVER_UID, item({ UID: algorithm.deviceUid })),
    text('HAS OBS CONTEXT', DEVICE_OBSERVER_NAME, `${algorithm.modelName} ${algorithm.softwareVersion}`),
    text('HAS OBS CONTEXT', DEVICE_OBSERVER_MANUFACTURER, algorithm.manufacturer),
    text('HAS OBS CONTEXT', DEVICE_OBSERVER_MODEL_NAME, algorithm.modelName),
    text('CONTAINS', COMMENT, RESEARCH_USE_STATEMENT),
    findings,
    ...frames.map(imageReference),
  ]);
  putCharacterSet(ds);

  requireAttributes(ds, {
    type1: ['SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'Modality', 'InstanceNumber',
      'CompletionFlag', 'VerificationFlag', 'ContentDate', 'ContentTime', 'ValueType', 'ConceptNameCodeSequence',
      'ContinuityOfContent', 'ContentSequence', 'CurrentRequestedProcedureEvidenceSequence'],
    type2: ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName',
      'StudyID', 'AccessionNumber', 'SeriesNumber', 'ReferencedPerformedProcedureStepSequence', 'PerformedProcedureCodeSequence',
      'Manufacturer'],
  }, 'SR');
  checkValues(ds);
  return serialize(role, ds, geometry.studyInstanceUid, seriesInstanceUid, sopInstanceUid, ENHANCED_SR_STORAGE);
}
