import { firstNumber, firstString, Tag, type DicomJsonDataset } from '../dicom/dicom-json.ts';

/** VL Whole Slide Microscopy Image Storage: one instance per pyramid level (plus thumbnail, label, overview). */
export const WSI_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.77.1.6';

/**
 * The long side UniMedVL's understanding path resizes every image to at most: uni-medical/UniMedVL
 * codes/data/transforms.py ImageTransform, which its inference scripts build as ImageTransform(980, ..., 14)
 * for the ViT (the tiny bundle's manifest says the same: preprocess.vit.max_size 980).
 */
export const MODEL_INPUT_SIDE = 980;

export interface PyramidLevel {
  sopInstanceUid: string;
  /** 0 is the full-resolution level; levels are numbered by decreasing size. */
  level: number;
  levels: number;
  totalColumns: number;
  totalRows: number;
  /** Frames (tiles) of the level: what retrieving it costs. */
  tiles: number;
}

const TOTAL_PIXEL_MATRIX_COLUMNS = '00480006';
const TOTAL_PIXEL_MATRIX_ROWS = '00480007';
const IMAGE_TYPE = '00080008';

/** Whether a series' metadata is a whole-slide pyramid (its instances are tiled levels, not slices). */
export function isWholeSlide(metadata: readonly DicomJsonDataset[]): boolean {
  return metadata.some((m) => firstString(m, Tag.SOPClassUID) === WSI_SOP_CLASS);
}

/**
 * The pyramid level whose long side is nearest `targetSide` on a log scale (a level twice too large is as far
 * as one half too small), ties to the larger. Only VOLUME levels count (ImageType value 3, PS3.3 C.8.12.4.1.1);
 * THUMBNAIL, LABEL and OVERVIEW images are never chosen. Undefined when the metadata has no VOLUME level.
 */
export function choosePyramidLevel(metadata: readonly DicomJsonDataset[], targetSide = MODEL_INPUT_SIDE): PyramidLevel | undefined {
  const levels = metadata
    .filter((m) => firstString(m, Tag.SOPClassUID) === WSI_SOP_CLASS)
    .filter((m) => (m[IMAGE_TYPE]?.Value?.[2] ?? '') === 'VOLUME')
    .map((m) => ({
      sopInstanceUid: firstString(m, Tag.SOPInstanceUID) ?? '',
      totalColumns: firstNumber(m, TOTAL_PIXEL_MATRIX_COLUMNS) ?? 0,
      totalRows: firstNumber(m, TOTAL_PIXEL_MATRIX_ROWS) ?? 0,
      tiles: firstNumber(m, Tag.NumberOfFrames) ?? 1,
    }))
    .filter((l) => l.sopInstanceUid !== '' && l.totalColumns > 0 && l.totalRows > 0)
    .sort((a, b) => b.totalColumns * b.totalRows - a.totalColumns * a.totalRows);
  let best: PyramidLevel | undefined;
  let bestDistance = Infinity;
  levels.forEach((l, level) => {
    const distance = Math.abs(Math.log(Math.max(l.totalColumns, l.totalRows) / targetSide));
    // Sorted largest first: a strict "<" keeps the larger level on a tie.
    if (distance < bestDistance - 1e-9) {
      best = { ...l, level, levels: levels.length };
      bestDistance = distance;
    }
  });
  return best;
}
