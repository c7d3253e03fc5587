// Segmentation Storage (PS3.3 A.51) built by hand and validated completely before it is written.
// dcmjs's own SEG helpers are not used: they map masks to the wrong slice, turn BINARY into
// FRACTIONAL, throw on a single slice and put the slice spacing where the thickness belongs.
import { RESEARCH_USE_NOTICE } from '../../shared/research-use-notice.ts';
import type { DicomJsonDataset } from '../dicom-json.ts';
import { SOP_CLASS } from '../sop-classes.ts';
import { TAG } from '../tags.ts';
import { concatBytes } from '../../shared/concat-bytes.ts';
import { DicomObjectInvalidError } from '../../shared/errors.ts';
import { deriveDicomUid } from '../../shared/uids.ts';
import type { CodedConcept } from './dataset-elements.ts';
import { codeItem, formatDs, item, put, putSequence, tagOf } from './dataset-elements.ts';
import { packBinaryFrames } from './pack-bits.ts';
import type { DicomResultObject, ResultContext } from './result-common.ts';
import {
  aiSeriesDescription, deriveResultUids, putCharacterSet, putContentDateTime, putEquipment, serialize,
} from './result-common.ts';
import type { SourceFrame, SourceSeries } from './source-series.ts';
import { copyPatientAndStudy, resolveSourceFrames, sourceSeriesLabel } from './source-series.ts';
import { checkValues, requireAttributes, sequenceItems } from './validate-dataset.ts';

export const SEGMENTATION_STORAGE = SOP_CLASS.SegmentationStorage;

/** CID 7162 "Artificial Intelligence", the usual algorithm family for model output. */
export const ARTIFICIAL_INTELLIGENCE_FAMILY: CodedConcept = { value: '123110', scheme: 'DCM', meaning: 'Artificial Intelligence' };

/** A 0/1 mask (BINARY), or a probability in [0, 1] / an already scaled 0..255 value (FRACTIONAL). */
export type MaskFrame = Uint8Array | Float32Array;

export interface SegmentDefinition {
  label: string;
  /** SNOMED CT segmented property category (CID 7150), e.g. Tissue, Morphologically abnormal structure. */
  category: CodedConcept;
  /** SNOMED CT segmented property type (CID 7151 and friends), e.g. Liver, Neoplasm. */
  type: CodedConcept;
  algorithm: { name: string; version: string; family?: CodedConcept };
  /** RecommendedDisplayCIELabValue, DICOM-scaled (see rgbToDicomLab). */
  cieLab?: readonly [number, number, number];
  description?: string;
  /**
   * One entry per source slice in the geometry's spatial order (index k is drawn on slice k), each
   * rows*columns row-major at the source resolution. undefined: the model did not look at that slice,
   * so the SEG has no frame for it (an all-zero frame would tell readers "structure absent here").
   */
  masks: readonly (MaskFrame | undefined)[];
}

export interface SegmentationInput {
  source: SourceSeries;
  context: ResultContext;
  segments: readonly SegmentDefinition[];
  /** BINARY (default) or FRACTIONAL (probability maps, 8-bit, maximum 255). */
  segmentationType?: 'BINARY' | 'FRACTIONAL';
  fractionalType?: 'PROBABILITY' | 'OCCUPANCY';
  /**
   * Also leave out analyzed slices with no foreground. Default false: an analyzed slice keeps its frame,
   * which says "looked, found nothing" (OHIF and other readers take an empty frame as absent).
   */
  omitEmptyFrames?: boolean;
  /** Role used for the UIDs; one per SEG of a job. Default "seg". */
  role?: string;
}

const SOURCE_FOR_PROCESSING: CodedConcept = { value: '121322', scheme: 'DCM', meaning: 'Source image for image processing operation' };
const SEGMENTATION_DERIVATION: CodedConcept = { value: '113076', scheme: 'DCM', meaning: 'Segmentation' };
const MAX_FRACTIONAL = 255;

function invalid(detail: string): DicomObjectInvalidError {
  return new DicomObjectInvalidError({ detail });
}

interface PlannedFrame {
  segmentNumber: number;
  source: SourceFrame;
  pixels: Uint8Array;
}

/** Frame of reference, orientation and every slice position: the SEG then lives in patient space. */
function hasPatientGeometry(source: SourceSeries, frames: readonly SourceFrame[]): boolean {
  const { geometry } = source;
  return Boolean(geometry.frameOfReferenceUid && geometry.imageOrientationPatient
    && frames.every((frame) => frame.imagePositionPatient));
}

function checkInput(input: SegmentationInput, frames: SourceFrame[], pixelsPerFrame: number): void {
  const { geometry } = input.source;
  if (hasPatientGeometry(input.source, frames)) {
    if (geometry.imageOrientationPatient!.length !== 6) throw invalid('source orientation invalid');
    if (!geometry.pixelSpacing) throw invalid('source has no pixel spacing');
  } else if (geometry.frameOfReferenceUid || frames.some((frame) => frame.imagePositionPatient)) {
    // Half a geometry would put masks somewhere wrong: all of it or none of it (projection images).
    throw invalid('source geometry incomplete');
  }
  if (geometry.pixelSpacing && (geometry.pixelSpacing.length !== 2 || geometry.pixelSpacing.some((v) => !(v > 0)))) {
    throw invalid('source pixel spacing invalid');
  }
  if (geometry.sliceThickness !== undefined && !(geometry.sliceThickness > 0)) throw invalid('source slice thickness invalid');
  if (input.segments.length === 0 || input.segments.length > 65535) throw invalid('segment count out of range');
  const fractional = input.segmentationType === 'FRACTIONAL';
  input.segments.forEach((segment, s) => {
    if (!segment.label.trim()) throw invalid(`segment ${s + 1} has no label`);
    if (!segment.algorithm.name.trim() || !segment.algorithm.version.trim()) throw invalid(`segment ${s + 1} algorithm unnamed`);
    if (segment.cieLab && (segment.cieLab.length !== 3 || segment.cieLab.some((v) => !Number.isInteger(v) || v < 0 || v > 65535))) {
      throw invalid(`segment ${s + 1} colour out of range`);
    }
    if (segment.masks.length !== frames.length) throw invalid(`segment ${s + 1} mask count differs from source frames`);
    segment.masks.forEach((mask, k) => {
      if (!mask) return;
      if (mask.length !== pixelsPerFrame) throw invalid(`segment ${s + 1} mask ${k} size differs from source frame`);
      if (!fractional && !(mask instanceof Uint8Array)) throw invalid(`segment ${s + 1} mask ${k} is not a 0/1 byte mask`);
      for (let i = 0; i < mask.length; i++) {
        const v = mask[i]!;
        const ok = fractional ? (mask instanceof Float32Array ? v >= 0 && v <= 1 : v <= MAX_FRACTIONAL) : v === 0 || v === 1;
        if (!ok) throw invalid(`segment ${s + 1} mask ${k} has values out of range`);
      }
    });
  });
}

function storedPixels(mask: MaskFrame, pixelsPerFrame: number): Uint8Array {
  if (mask instanceof Uint8Array) return mask;
  const scaled = new Uint8Array(pixelsPerFrame);
  for (let i = 0; i < pixelsPerFrame; i++) scaled[i] = Math.round(mask[i]! * MAX_FRACTIONAL);
  return scaled;
}

function planFrames(input: SegmentationInput, sources: SourceFrame[], pixelsPerFrame: number): PlannedFrame[] {
  // Frames only for the slices the model analyzed (see SegmentDefinition.masks).
  const analyzed: PlannedFrame[] = [];
  input.segments.forEach((segment, s) => {
    sources.forEach((source, k) => {
      const mask = segment.masks[k];
      if (mask) analyzed.push({ segmentNumber: s + 1, source, pixels: storedPixels(mask, pixelsPerFrame) });
    });
  });
  if (analyzed.length === 0) throw invalid('no analyzed slice');
  if (!input.omitEmptyFrames) return analyzed;
  const kept = analyzed.filter((frame) => frame.pixels.some((v) => v !== 0));
  // A SEG needs at least one frame: an all-empty result keeps the first analyzed frame.
  return kept.length > 0 ? kept : analyzed.slice(0, 1);
}

function segmentsOverlap(input: SegmentationInput, pixelsPerFrame: number): 'YES' | 'NO' | 'UNDEFINED' {
  if (input.segmentationType === 'FRACTIONAL') return 'UNDEFINED';
  if (input.segments.length === 1) return 'NO';
  const sliceCount = input.segments[0]!.masks.length;
  for (let k = 0; k < sliceCount; k++) {
    const seen = new Uint8Array(pixelsPerFrame);
    for (const segment of input.segments) {
      const mask = segment.masks[k];
      if (!mask) continue;
      for (let i = 0; i < pixelsPerFrame; i++) {
        if (mask[i]) {
          if (seen[i]) return 'YES';
          seen[i] = 1;
        }
      }
    }
  }
  return 'NO';
}

function segmentItem(segment: SegmentDefinition, segmentNumber: number): DicomJsonDataset {
  return item({
    SegmentNumber: segmentNumber,
    SegmentLabel: segment.label,
    SegmentDescription: segment.description,
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: segment.algorithm.name,
    SegmentationAlgorithmIdentificationSequence: [
      item({
        AlgorithmFamilyCodeSequence: [codeItem(segment.algorithm.family ?? ARTIFICIAL_INTELLIGENCE_FAMILY)],
        AlgorithmName: segment.algorithm.name,
        AlgorithmVersion: segment.algorithm.version,
      }),
    ],
    SegmentedPropertyCategoryCodeSequence: [codeItem(segment.category)],
    SegmentedPropertyTypeCodeSequence: [codeItem(segment.type)],
    RecommendedDisplayCIELabValue: segment.cieLab ? [...segment.cieLab] : undefined,
  });
}

function perFrameItem(frame: PlannedFrame, patientSpace: boolean): DicomJsonDataset {
  const sourceImage = item({
    ReferencedSOPClassUID: frame.source.sopClassUid,
    ReferencedSOPInstanceUID: frame.source.sopInstanceUid,
    ReferencedFrameNumber: frame.source.multiFrame ? frame.source.frameNumber : undefined,
    PurposeOfReferenceCodeSequence: [codeItem(SOURCE_FOR_PROCESSING)],
  });
  return item({
    DerivationImageSequence: [
      item({ SourceImageSequence: [sourceImage], DerivationCodeSequence: [codeItem(SEGMENTATION_DERIVATION)] }),
    ],
    FrameContentSequence: [item({
      DimensionIndexValues: [frame.segmentNumber, frame.source.sliceIndex + 1],
      StackID: patientSpace ? undefined : '1',
      InStackPositionNumber: patientSpace ? undefined : frame.source.sliceIndex + 1,
    })],
    PlanePositionSequence: patientSpace
      ? [item({ ImagePositionPatient: frame.source.imagePositionPatient!.map(formatDs) })] : undefined,
    SegmentIdentificationSequence: [item({ ReferencedSegmentNumber: frame.segmentNumber })],
  });
}

function referencedSeries(input: SegmentationInput, frames: readonly PlannedFrame[]): DicomJsonDataset[] {
  // The instances the frames were derived from: what the SEG says something about.
  const instances = new Map<string, string>();
  for (const { source } of frames) instances.set(source.sopInstanceUid, source.sopClassUid);
  return [
    item({
      SeriesInstanceUID: input.source.geometry.seriesInstanceUid,
      ReferencedInstanceSequence: [...instances].map(([uid, cls]) =>
        item({ ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: uid })),
    }),
  ];
}

const REQUIRED_TYPE1 = [
  'SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'Modality', 'SeriesNumber', 'InstanceNumber',
  'Manufacturer', 'ManufacturerModelName', 'DeviceSerialNumber', 'SoftwareVersions', 'ImageType',
  'ContentLabel', 'SegmentationType', 'SegmentSequence', 'SamplesPerPixel', 'PhotometricInterpretation', 'Rows', 'Columns',
  'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'LossyImageCompression', 'NumberOfFrames',
  'SharedFunctionalGroupsSequence', 'PerFrameFunctionalGroupsSequence', 'DimensionOrganizationSequence',
  'DimensionIndexSequence', 'ContentDate', 'ContentTime', 'ReferencedSeriesSequence', 'ContributingEquipmentSequence',
  'PixelData',
];
const REQUIRED_TYPE2 = [
  'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName',
  'StudyID', 'AccessionNumber', 'ContentCreatorName',
];

function checkBuilt(
  dataset: DicomJsonDataset, frames: PlannedFrame[], segmentCount: number, pixelBytes: number, patientSpace: boolean,
): void {
  requireAttributes(dataset, { type1: REQUIRED_TYPE1, type2: REQUIRED_TYPE2 }, 'SEG');
  if (patientSpace) requireAttributes(dataset, { type1: ['FrameOfReferenceUID'], type2: ['PositionReferenceIndicator'] }, 'SEG');
  checkValues(dataset);
  const perFrame = sequenceItems(dataset, 'PerFrameFunctionalGroupsSequence');
  if (perFrame.length !== frames.length) throw invalid('SEG per-frame groups differ from frame count');
  const numbers = new Set<number>();
  perFrame.forEach((group, f) => {
    const [identification] = sequenceItems(group, 'SegmentIdentificationSequence');
    const referenced = identification?.[tagOf('ReferencedSegmentNumber')]?.Value?.[0];
    if (typeof referenced !== 'number' || referenced < 1 || referenced > segmentCount || referenced !== frames[f]!.segmentNumber) {
      throw invalid(`SEG frame ${f + 1} references an unknown segment`);
    }
    numbers.add(referenced);
    const [derivation] = sequenceItems(group, 'DerivationImageSequence');
    if (!derivation || sequenceItems(derivation, 'SourceImageSequence').length !== 1) throw invalid(`SEG frame ${f + 1} has no source`);
  });
  const segmentNumbers = sequenceItems(dataset, 'SegmentSequence').map((s) => s[tagOf('SegmentNumber')]?.Value?.[0]);
  if (segmentNumbers.some((n, i) => n !== i + 1)) throw invalid('SEG segment numbers are not 1..n');
  const pixelData = dataset[tagOf('PixelData')]?.Value?.[0];
  if (!(pixelData instanceof ArrayBuffer) || pixelData.byteLength !== pixelBytes) throw invalid('SEG pixel data size wrong');
}

/** Builds, validates and serializes a SEG; throws DicomObjectInvalidError when anything is off. */
export function buildSegmentation(input: SegmentationInput): DicomResultObject {
  const { geometry } = input.source;
  const sources = resolveSourceFrames(input.source);
  const pixelsPerFrame = geometry.rows * geometry.columns;
  checkInput(input, sources, pixelsPerFrame);
  const binary = input.segmentationType !== 'FRACTIONAL';
  const frames = planFrames(input, sources, pixelsPerFrame);
  const role = input.role ?? 'seg';
  const { seriesInstanceUid, sopInstanceUid } = deriveResultUids(input.context.jobKey, role);

  const pixelData = binary
    ? packBinaryFrames(frames.map((f) => f.pixels), pixelsPerFrame)
    : concatenatePadded(frames.map((f) => f.pixels));

  const ds: DicomJsonDataset = copyPatientAndStudy(input.source);
  put(ds, 'SOPClassUID', [SEGMENTATION_STORAGE]);
  put(ds, 'SOPInstanceUID', [sopInstanceUid]);
  // General Series + Segmentation Series
  put(ds, 'Modality', ['SEG']);
  put(ds, 'SeriesInstanceUID', [seriesInstanceUid]);
  put(ds, 'SeriesNumber', [input.context.seriesNumber ?? 9101]);
  put(ds, 'SeriesDescription', [aiSeriesDescription('segmentation', sourceSeriesLabel(input.source))]);
  const patientSpace = hasPatientGeometry(input.source, sources);
  if (patientSpace) {
    // Frame of Reference: the source's, so the masks land where they were drawn.
    put(ds, 'FrameOfReferenceUID', [geometry.frameOfReferenceUid!]);
    put(ds, 'PositionReferenceIndicator', sourcePositionReference(input.source));
  } else {
    // Type 2C without plane geometry: the projection's own orientation labels, if it has them.
    put(ds, 'PatientOrientation', sourcePatientOrientation(input.source, sources[0]!.sopInstanceUid));
  }
  putEquipment(ds, input.context);
  // General Image + Segmentation Image
  put(ds, 'InstanceNumber', [1]);
  putContentDateTime(ds, input.context.createdAt);
  put(ds, 'ImageType', ['DERIVED', 'PRIMARY']);
  put(ds, 'ContentLabel', ['AI_SEGMENTATION']);
  put(ds, 'ContentDescription', [RESEARCH_USE_NOTICE]);
  put(ds, 'ContentCreatorName', []);
  put(ds, 'SegmentationType', [binary ? 'BINARY' : 'FRACTIONAL']);
  if (!binary) {
    put(ds, 'SegmentationFractionalType', [input.fractionalType ?? 'PROBABILITY']);
    put(ds, 'MaximumFractionalValue', [MAX_FRACTIONAL]);
  }
  put(ds, 'SegmentsOverlap', [segmentsOverlap(input, pixelsPerFrame)]);
  putSequence(ds, 'SegmentSequence', input.segments.map((segment, s) => segmentItem(segment, s + 1)));
  // Image Pixel
  put(ds, 'SamplesPerPixel', [1]);
  put(ds, 'PhotometricInterpretation', ['MONOCHROME2']);
  put(ds, 'Rows', [geometry.rows]);
  put(ds, 'Columns', [geometry.columns]);
  put(ds, 'BitsAllocated', [binary ? 1 : 8]);
  put(ds, 'BitsStored', [binary ? 1 : 8]);
  put(ds, 'HighBit', [binary ? 0 : 7]);
  put(ds, 'PixelRepresentation', [0]);
  put(ds, 'LossyImageCompression', ['00']);
  // Multi-frame Functional Groups + Dimensions
  put(ds, 'NumberOfFrames', [frames.length]);
  putSequence(ds, 'SharedFunctionalGroupsSequence', [sharedGroups(input, patientSpace)]);
  putSequence(ds, 'PerFrameFunctionalGroupsSequence', frames.map((frame) => perFrameItem(frame, patientSpace)));
  const dimensionOrganizationUid = deriveDicomUid(input.context.jobKey, `${role}:dimension-organization`);
  putSequence(ds, 'DimensionOrganizationSequence', [item({ DimensionOrganizationUID: dimensionOrganizationUid })]);
  putSequence(ds, 'DimensionIndexSequence', [
    dimensionIndex(dimensionOrganizationUid, TAG.ReferencedSegmentNumber, TAG.SegmentIdentificationSequence, 'Segment Number'),
    patientSpace
      ? dimensionIndex(dimensionOrganizationUid, TAG.ImagePositionPatient, TAG.PlanePositionSequence, 'Image Position Patient')
      // Projection images have no position: the second index is the source slice (in-stack position).
      : dimensionIndex(dimensionOrganizationUid, TAG.InStackPositionNumber, TAG.FrameContentSequence, 'Source Slice'),
  ]);
  // Common Instance Reference
  putSequence(ds, 'ReferencedSeriesSequence', referencedSeries(input, frames));
  put(ds, 'PixelData', [pixelData.buffer as ArrayBuffer], 'OB');
  putCharacterSet(ds);

  checkBuilt(ds, frames, input.segments.length, pixelData.byteLength, patientSpace);
  return serialize(role, ds, geometry.studyInstanceUid, seriesInstanceUid, sopInstanceUid, SEGMENTATION_STORAGE);
}

function dimensionIndex(organizationUid: string, pointer: number, group: number, label: string): DicomJsonDataset {
  const entry = item({ DimensionOrganizationUID: organizationUid, DimensionDescriptionLabel: label });
  put(entry, 'DimensionIndexPointer', [pointer]);
  put(entry, 'FunctionalGroupPointer', [group]);
  return entry;
}

function sharedGroups(input: SegmentationInput, patientSpace: boolean): DicomJsonDataset {
  const { geometry } = input.source;
  const measures = item({
    PixelSpacing: geometry.pixelSpacing?.map(formatDs),
    // The source's own thickness, never the spacing between slices.
    SliceThickness: geometry.sliceThickness === undefined ? undefined : formatDs(geometry.sliceThickness),
    SpacingBetweenSlices: patientSpace && geometry.slices.length > 1 && geometry.spacingBetweenSlices !== undefined
      ? formatDs(geometry.spacingBetweenSlices) : undefined,
  });
  return item({
    PixelMeasuresSequence: Object.keys(measures).length > 0 ? [measures] : undefined,
    PlaneOrientationSequence: patientSpace
      ? [item({ ImageOrientationPatient: geometry.imageOrientationPatient!.map(formatDs) })] : undefined,
  });
}

function sourcePatientOrientation(source: SourceSeries, sopInstanceUid: string): string[] {
  const instance = source.instances.find((i) => i[tagOf('SOPInstanceUID')]?.Value?.[0] === sopInstanceUid);
  const values = instance?.[tagOf('PatientOrientation')]?.Value;
  return Array.isArray(values) && values.length === 2 && values.every((v) => typeof v === 'string') ? values as string[] : [];
}

function sourcePositionReference(source: SourceSeries): string[] {
  const tag = tagOf('PositionReferenceIndicator');
  const value = source.instances.map((i) => i[tag]?.Value?.[0]).find((v) => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}

function concatenatePadded(frames: readonly Uint8Array[]): Uint8Array {
  const total = frames.reduce((n, f) => n + f.length, 0);
  return concatBytes(frames, total + (total % 2));
}
