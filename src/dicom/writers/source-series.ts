// The input every writer builds from: the source series' geometry (as ingest assembled it, slices in
// spatial order) and its instances' DICOM JSON metadata (the WADO-RS /metadata answer).
import type { DicomJsonDataset } from '../dicom-json.ts';
import { Tag, firstNumber, firstString } from '../dicom-json.ts';
import type { Volume } from '../volume/volume.ts';
import { DicomObjectInvalidError } from '../../shared/errors.ts';
import { isDicomUid } from '../../shared/uids.ts';
import { tagOf } from './dataset-elements.ts';
import { lookupKeyword } from './dcmjs-io.ts';

export type SourceGeometry = Pick<
  Volume,
  | 'studyInstanceUid' | 'seriesInstanceUid' | 'modality' | 'rows' | 'columns' | 'slices' | 'frameOfReferenceUid'
  | 'imageOrientationPatient' | 'pixelSpacing' | 'sliceThickness' | 'spacingBetweenSlices'
>;

export interface SourceSeries {
  geometry: SourceGeometry;
  /** Metadata of every source instance the geometry's slices point at (any order). */
  instances: readonly DicomJsonDataset[];
}

/** One source frame, in the geometry's spatial order, resolved against its instance. */
export interface SourceFrame {
  /** 0-based position in spatial order (the index masks are given by). */
  sliceIndex: number;
  sopClassUid: string;
  sopInstanceUid: string;
  /** 1-based frame inside the instance. */
  frameNumber: number;
  /** Whether the instance is multi-frame (then references carry the frame number). */
  multiFrame: boolean;
  imagePositionPatient?: [number, number, number];
}

function invalid(detail: string): DicomObjectInvalidError {
  return new DicomObjectInvalidError({ detail });
}

/** Checks the source and resolves every slice to its instance and frame; throws DicomObjectInvalidError. */
export function resolveSourceFrames(source: SourceSeries): SourceFrame[] {
  const { geometry } = source;
  if (!isDicomUid(geometry.studyInstanceUid)) throw invalid('source study UID invalid');
  if (!isDicomUid(geometry.seriesInstanceUid)) throw invalid('source series UID invalid');
  if (!Number.isInteger(geometry.rows) || !Number.isInteger(geometry.columns) || geometry.rows < 1 || geometry.columns < 1) {
    throw invalid('source rows/columns invalid');
  }
  if (geometry.slices.length === 0) throw invalid('source has no slices');
  const byUid = new Map<string, DicomJsonDataset>();
  for (const instance of source.instances) {
    const uid = firstString(instance, Tag.SOPInstanceUID);
    if (uid) byUid.set(uid, instance);
  }
  const seen = new Set<string>();
  return geometry.slices.map((slice, sliceIndex) => {
    const instance = byUid.get(slice.sopInstanceUid);
    if (!instance) throw invalid(`slice ${sliceIndex} has no source instance metadata`);
    if (!isDicomUid(slice.sopInstanceUid) || !isDicomUid(slice.sopClassUid)) throw invalid(`slice ${sliceIndex} UIDs invalid`);
    const instanceClass = firstString(instance, Tag.SOPClassUID);
    if (instanceClass !== undefined && instanceClass !== slice.sopClassUid) throw invalid(`slice ${sliceIndex} SOP class mismatch`);
    if (firstString(instance, Tag.StudyInstanceUID) !== geometry.studyInstanceUid) throw invalid(`slice ${sliceIndex} is in another study`);
    const numberOfFrames = firstNumber(instance, Tag.NumberOfFrames) ?? 1;
    if (!Number.isInteger(slice.frameNumber) || slice.frameNumber < 1 || slice.frameNumber > numberOfFrames) {
      throw invalid(`slice ${sliceIndex} frame number out of range`);
    }
    const key = `${slice.sopInstanceUid}#${slice.frameNumber}`;
    if (seen.has(key)) throw invalid(`slice ${sliceIndex} repeats a source frame`);
    seen.add(key);
    const frame: SourceFrame = {
      sliceIndex,
      sopClassUid: slice.sopClassUid,
      sopInstanceUid: slice.sopInstanceUid,
      frameNumber: slice.frameNumber,
      multiFrame: numberOfFrames > 1 || firstNumber(instance, Tag.NumberOfFrames) !== undefined,
    };
    if (slice.imagePositionPatient) frame.imagePositionPatient = slice.imagePositionPatient;
    return frame;
  });
}

// Patient, General Study and Patient Study attributes copied from the source so results join its study.
// Type 2 ones are written empty when the source lacks them.
const COPIED_TYPE2 = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime',
  'ReferringPhysicianName', 'StudyID', 'AccessionNumber'];
const COPIED_OPTIONAL = ['IssuerOfPatientID', 'IssuerOfPatientIDQualifiersSequence', 'PatientBirthTime',
  'OtherPatientIDsSequence', 'PatientComments', 'PatientIdentityRemoved', 'DeidentificationMethod',
  'DeidentificationMethodCodeSequence', 'PatientSpeciesDescription', 'PatientSpeciesCodeSequence',
  'PatientBreedDescription', 'PatientBreedCodeSequence', 'ResponsiblePerson', 'ResponsibleOrganization',
  'StudyDescription', 'IssuerOfAccessionNumberSequence', 'PatientAge', 'PatientSize', 'PatientWeight',
  'ClinicalTrialSponsorName', 'ClinicalTrialProtocolID', 'ClinicalTrialProtocolName', 'ClinicalTrialSiteID',
  'ClinicalTrialSiteName', 'ClinicalTrialSubjectID', 'ClinicalTrialSubjectReadingID'];

/**
 * The value as the source stored it: decimal and integer strings keep their text (dcmjs's `_rawValue`
 * when a Part 10 file was read; a string when the pipeline put the stored text back), so `0.000000` is
 * not rewritten as `0` and the study reads the same in source and results.
 */
function storedValue(element: DicomJsonDataset[string]): unknown[] {
  const raw = (element as { _rawValue?: unknown })._rawValue;
  if ((element.vr === 'DS' || element.vr === 'IS') && Array.isArray(raw) && raw.length === element.Value!.length && raw.every((v) => typeof v === 'string')) {
    return raw.map((v: string) => v.trim());
  }
  return structuredClone(element.Value!);
}

/** Number and description of the source series (for result series descriptions), from its first instance. */
export function sourceSeriesLabel(source: SourceSeries): { seriesNumber?: string; seriesDescription?: string } {
  const first = source.instances[0];
  if (!first) return {};
  const number = first[tagOf('SeriesNumber')]?.Value?.[0];
  const description = firstString(first, Tag.SeriesDescription);
  return {
    ...(typeof number === 'number' || (typeof number === 'string' && number.trim()) ? { seriesNumber: String(number).trim() } : {}),
    ...(description?.trim() ? { seriesDescription: description.trim() } : {}),
  };
}

/** Patient + General Study + Patient Study modules of the source, as elements of the result dataset. */
export function copyPatientAndStudy(source: SourceSeries): DicomJsonDataset {
  const first = source.instances.find(
    (instance) => firstString(instance, Tag.SOPInstanceUID) === source.geometry.slices[0]?.sopInstanceUid,
  );
  if (!first) throw invalid('source instance metadata missing');
  const copied: DicomJsonDataset = {};
  copied[tagOf('StudyInstanceUID')] = { vr: 'UI', Value: [source.geometry.studyInstanceUid] };
  for (const keyword of [...COPIED_TYPE2, ...COPIED_OPTIONAL]) {
    const tag = tagOf(keyword);
    const found = first[tag];
    // Bulk data references cannot be copied into a file; such attributes are never patient/study ones.
    if (found && found.Value !== undefined && found.BulkDataURI === undefined && found.InlineBinary === undefined) {
      copied[tag] = { vr: found.vr, Value: storedValue(found) };
    } else if (COPIED_TYPE2.includes(keyword)) {
      copied[tag] = { vr: found?.vr ?? lookupKeyword(keyword)!.vr, Value: [] };
    }
  }
  return copied;
}
