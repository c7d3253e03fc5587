// What ingest hands to the model stage: one series as decoded pixels in spatial order, with the
// geometry the result writers need to point back at the source.

/** Where one slice of a volume came from. */
export interface SliceSource {
  sopClassUid: string;
  sopInstanceUid: string;
  /** 1-based frame number inside the source instance (1 for single-frame instances). */
  frameNumber: number;
  /** ImagePositionPatient of this frame, when the source has geometry. */
  imagePositionPatient?: [number, number, number];
}

export interface Volume {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  rows: number;
  columns: number;
  /** Number of slices (frames) in spatial order. */
  depth: number;
  /** 1 for grey, 3 for colour (RGB, interleaved per pixel). */
  samplesPerPixel: 1 | 3;
  /** After decoding: MONOCHROME1, MONOCHROME2 or RGB (YBR inputs are converted to RGB). */
  photometricInterpretation: 'MONOCHROME1' | 'MONOCHROME2' | 'RGB';
  /**
   * Modality values: stored values with RescaleSlope/Intercept applied, slice-major then row-major,
   * samples interleaved. MONOCHROME1 is kept as stored: display code inverts it.
   */
  pixels: Float32Array;
  slices: SliceSource[];
  frameOfReferenceUid?: string;
  imageOrientationPatient?: [number, number, number, number, number, number];
  /** Row spacing, column spacing in mm. */
  pixelSpacing?: [number, number];
  /** The source's own SliceThickness (not the spacing between slices). */
  sliceThickness?: number;
  /** Distance between consecutive slice positions along the normal, when regular. */
  spacingBetweenSlices?: number;
  /** First VOI window of the source, if any. */
  window?: { center: number; width: number };
  bitsStored: number;
}
