// What decoding one DICOM instance yields: its pixels as stored values per frame, and the attributes that
// volume assembly and the result writers need.
import type { DicomDataset } from './read-part10.ts';

/** Stored values of one frame, samples interleaved (RGB: R G B per pixel). */
export type StoredFrame = Uint8Array | Int8Array | Uint16Array | Int16Array;

export type Vec3 = [number, number, number];
export type Orientation = [number, number, number, number, number, number];

export interface DecodedInstance {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string | undefined;
  instanceNumber: number | undefined;
  seriesDescription: string | undefined;
  /**
   * Patient-level decimal strings as stored (PatientSize, PatientWeight: DICOM JSON turns them into
   * numbers, so `0.000000` would come back as `0`); results copy them unchanged. Keyed by DICOM JSON tag.
   */
  storedDecimals: Record<string, string>;
  bodyPartExamined: string | undefined;
  rows: number;
  columns: number;
  samplesPerPixel: 1 | 3;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
  /** After decoding: YBR inputs come out as RGB. */
  photometricInterpretation: string;
  /** As the file declares it. */
  storedPhotometricInterpretation: string;
  numberOfFrames: number;
  frames: StoredFrame[];
  /** Per frame: ImagePositionPatient (per-frame functional groups first, then the top level). */
  framePositions: (Vec3 | undefined)[];
  /** Per frame: modality rescale (per-frame, shared functional groups, top level; default 1 and 0). */
  frameRescales: { slope: number; intercept: number }[];
  rescaleSlope: number;
  rescaleIntercept: number;
  imageOrientationPatient: Orientation | undefined;
  /** Row spacing, column spacing (mm). */
  pixelSpacing: [number, number] | undefined;
  sliceThickness: number | undefined;
  spacingBetweenSlices: number | undefined;
  frameOfReferenceUid: string | undefined;
  window: { center: number; width: number } | undefined;
  /** The parsed dataset without Pixel Data (values copied), for writers that copy patient and study attributes. */
  dataset: DicomDataset;
}
