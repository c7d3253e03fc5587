// A generated image as Secondary Capture: the single-frame SC Image Storage for one frame, the
// multi-frame SC classes (grey byte, grey word, true colour) for several. ImageType DERIVED\SECONDARY,
// Source Image Sequence to the input, labelled AI-generated and research use everywhere a viewer shows.
import { RESEARCH_USE_NOTICE } from '../../shared/research-use-notice.ts';
import type { DicomJsonDataset } from '../dicom-json.ts';
import { SOP_CLASS } from '../sop-classes.ts';
import { TAG, Tag } from '../tags.ts';
import { DicomObjectInvalidError } from '../../shared/errors.ts';
import type { CodedConcept } from './dataset-elements.ts';
import { codeItem, formatDicomDateTime, item, put, putSequence } from './dataset-elements.ts';
import type { DicomResultObject, ResultContext } from './result-common.ts';
import {
  aiSeriesDescription, deriveResultUids, putCharacterSet, putContentDateTime, putEquipment, serialize,
} from './result-common.ts';
import type { SourceSeries } from './source-series.ts';
import { copyPatientAndStudy, resolveSourceFrames, sourceSeriesLabel } from './source-series.ts';
import { checkValues, requireAttributes } from './validate-dataset.ts';

export const SECONDARY_CAPTURE_IMAGE_STORAGE = SOP_CLASS.SecondaryCaptureImageStorage;
export const MULTIFRAME_GRAYSCALE_BYTE_SC = SOP_CLASS.MultiFrameGrayscaleByteSecondaryCaptureImageStorage;
export const MULTIFRAME_GRAYSCALE_WORD_SC = SOP_CLASS.MultiFrameGrayscaleWordSecondaryCaptureImageStorage;
export const MULTIFRAME_TRUE_COLOR_SC = SOP_CLASS.MultiFrameTrueColorSecondaryCaptureImageStorage;

export interface GeneratedImage {
  rows: number;
  columns: number;
  /** 'GREY8' (MONOCHROME2, 8 bit), 'GREY16' (MONOCHROME2, 16 bit unsigned) or 'RGB8' (interleaved RGB). */
  format: 'GREY8' | 'GREY16' | 'RGB8';
  /** One array per frame: rows*columns (grey) or rows*columns*3 (RGB), row-major. */
  frames: readonly (Uint8Array | Uint16Array)[];
}

export interface DerivedImageInput {
  source: SourceSeries;
  context: ResultContext;
  image: GeneratedImage;
  /** What the image is, for the series description (e.g. "generated image"). */
  what?: string;
  /** Source slices (spatial indices) the image was derived from; default: every slice of the source. */
  sourceSliceIndices?: readonly number[];
  /** Role used for the UIDs; one per derived image of a job. Default "derived-image". */
  role?: string;
}

const SOURCE_FOR_PROCESSING: CodedConcept = { value: '121322', scheme: 'DCM', meaning: 'Source image for image processing operation' };

function invalid(detail: string): DicomObjectInvalidError {
  return new DicomObjectInvalidError({ detail });
}

function sopClassFor(image: GeneratedImage): string {
  if (image.frames.length === 1) return SECONDARY_CAPTURE_IMAGE_STORAGE;
  if (image.format === 'RGB8') return MULTIFRAME_TRUE_COLOR_SC;
  return image.format === 'GREY16' ? MULTIFRAME_GRAYSCALE_WORD_SC : MULTIFRAME_GRAYSCALE_BYTE_SC;
}

function checkImage(image: GeneratedImage): void {
  if (!Number.isInteger(image.rows) || !Number.isInteger(image.columns) || image.rows < 1 || image.columns < 1
    || image.rows > 65535 || image.columns > 65535) {
    throw invalid('derived image size invalid');
  }
  if (image.frames.length === 0) throw invalid('derived image has no frames');
  const samples = image.format === 'RGB8' ? 3 : 1;
  image.frames.forEach((frame, f) => {
    if (frame.length !== image.rows * image.columns * samples) throw invalid(`derived image frame ${f + 1} size wrong`);
    const wantWords = image.format === 'GREY16';
    if (wantWords !== frame instanceof Uint16Array) throw invalid(`derived image frame ${f + 1} sample type wrong`);
  });
}

function pixelBytes(image: GeneratedImage): Uint8Array {
  const bytesPerFrame = image.frames[0]!.byteLength;
  const total = bytesPerFrame * image.frames.length;
  const out = new Uint8Array(total + (total % 2));
  const view = new DataView(out.buffer);
  image.frames.forEach((frame, f) => {
    if (frame instanceof Uint16Array) {
      // Explicit VR little endian, whatever the host's byte order.
      for (let i = 0; i < frame.length; i++) view.setUint16(f * bytesPerFrame + i * 2, frame[i]!, true);
    } else {
      out.set(frame, f * bytesPerFrame);
    }
  });
  return out;
}

function sourceLaterality(source: SourceSeries): string[] {
  const laterality = source.instances.map((i) => i[Tag.Laterality]?.Value?.[0]).find((v) => typeof v === 'string' && v !== '');
  return typeof laterality === 'string' ? [laterality] : [];
}

const REQUIRED_TYPE1 = [
  'SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'Modality', 'ConversionType', 'ImageType',
  'SourceImageSequence', 'BurnedInAnnotation', 'SamplesPerPixel', 'PhotometricInterpretation', 'Rows', 'Columns',
  'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'SeriesDescription', 'PixelData',
];
const REQUIRED_TYPE2 = [
  'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName',
  'StudyID', 'AccessionNumber', 'SeriesNumber', 'InstanceNumber', 'PatientOrientation',
];

/** Builds, validates and serializes a Secondary Capture; throws DicomObjectInvalidError when anything is off. */
export function buildDerivedImage(input: DerivedImageInput): DicomResultObject {
  const { image } = input;
  checkImage(image);
  const sources = resolveSourceFrames(input.source);
  const chosen = input.sourceSliceIndices ?? sources.map((s) => s.sliceIndex);
  if (chosen.length === 0 || chosen.some((k) => !Number.isInteger(k) || k < 0 || k >= sources.length)) {
    throw invalid('derived image source slice out of range');
  }
  const role = input.role ?? 'derived-image';
  const { seriesInstanceUid, sopInstanceUid } = deriveResultUids(input.context.jobKey, role);
  const sopClassUid = sopClassFor(image);
  const multiFrame = sopClassUid !== SECONDARY_CAPTURE_IMAGE_STORAGE;
  const rgb = image.format === 'RGB8';
  const bits = image.format === 'GREY16' ? 16 : 8;
  const pixels = pixelBytes(image);
  const { date, time } = formatDicomDateTime(input.context.createdAt);

  const ds: DicomJsonDataset = copyPatientAndStudy(input.source);
  put(ds, 'SOPClassUID', [sopClassUid]);
  put(ds, 'SOPInstanceUID', [sopInstanceUid]);
  // General Series
  put(ds, 'Modality', ['OT']);
  put(ds, 'SeriesInstanceUID', [seriesInstanceUid]);
  put(ds, 'SeriesNumber', [input.context.seriesNumber ?? 9102]);
  put(ds, 'SeriesDescription', [aiSeriesDescription(input.what ?? 'generated image', sourceSeriesLabel(input.source))]);
  // Type 2C (paired body parts): the source's when it has one, else present and empty (unknown).
  put(ds, 'Laterality', sourceLaterality(input.source));
  // SC Equipment: a synthetic image made by the algorithm.
  put(ds, 'ConversionType', ['SYN']);
  putEquipment(ds, input.context);
  // General Image + SC Image
  put(ds, 'InstanceNumber', [1]);
  put(ds, 'PatientOrientation', []);
  putContentDateTime(ds, input.context.createdAt);
  put(ds, 'DateOfSecondaryCapture', [date]);
  put(ds, 'TimeOfSecondaryCapture', [time]);
  put(ds, 'ImageType', ['DERIVED', 'SECONDARY']);
  put(ds, 'DerivationDescription', [RESEARCH_USE_NOTICE]);
  put(ds, 'ImageComments', [RESEARCH_USE_NOTICE]);
  put(ds, 'BurnedInAnnotation', ['NO']);
  put(ds, 'RecognizableVisualFeatures', ['NO']);
  put(ds, 'LossyImageCompression', ['00']);
  putSequence(ds, 'SourceImageSequence', chosen.map((k) => {
    const frame = sources[k]!;
    return item({
      ReferencedSOPClassUID: frame.sopClassUid,
      ReferencedSOPInstanceUID: frame.sopInstanceUid,
      ReferencedFrameNumber: frame.multiFrame ? frame.frameNumber : undefined,
      PurposeOfReferenceCodeSequence: [codeItem(SOURCE_FOR_PROCESSING)],
    });
  }));
  // Image Pixel
  put(ds, 'SamplesPerPixel', [rgb ? 3 : 1]);
  put(ds, 'PhotometricInterpretation', [rgb ? 'RGB' : 'MONOCHROME2']);
  if (rgb) put(ds, 'PlanarConfiguration', [0]);
  put(ds, 'Rows', [image.rows]);
  put(ds, 'Columns', [image.columns]);
  put(ds, 'BitsAllocated', [bits]);
  put(ds, 'BitsStored', [bits]);
  put(ds, 'HighBit', [bits - 1]);
  put(ds, 'PixelRepresentation', [0]);
  if (multiFrame) {
    put(ds, 'NumberOfFrames', [image.frames.length]);
    // Frames are pages of one generated result; the page number vector says so.
    put(ds, 'FrameIncrementPointer', [TAG.PageNumberVector]);
    put(ds, 'PageNumberVector', image.frames.map((_, f) => f + 1));
    if (!rgb) put(ds, 'PresentationLUTShape', ['IDENTITY']);
    if (!rgb) {
      put(ds, 'RescaleIntercept', ['0']);
      put(ds, 'RescaleSlope', ['1']);
      put(ds, 'RescaleType', ['US']);
    }
  }
  put(ds, 'PixelData', [pixels.buffer as ArrayBuffer], bits === 16 ? 'OW' : 'OB');
  putCharacterSet(ds);

  requireAttributes(ds, { type1: REQUIRED_TYPE1, type2: REQUIRED_TYPE2 }, 'SC');
  checkValues(ds);
  return serialize(role, ds, input.source.geometry.studyInstanceUid, seriesInstanceUid, sopInstanceUid, sopClassUid);
}
