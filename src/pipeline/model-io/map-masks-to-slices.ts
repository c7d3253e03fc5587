// Generated masks come at the model's resolution for some slices; the SEG wants one mask per source
// slice (spatial order) at the source resolution. This maps one to the other.
import type { Size } from './resize-nearest.ts';
import { resizeNearest } from './resize-nearest.ts';
import { thresholdMask } from './threshold.ts';

export interface GeneratedSliceMask {
  /** 0-based index of the source slice in spatial order (Volume.slices). */
  sliceIndex: number;
  rows: number;
  columns: number;
  /** Probabilities/scores (thresholded) or a 0/1 mask, row-major. */
  values: Float32Array | Uint8Array;
}

export interface MapMasksOptions {
  /** Values >= threshold become foreground (default 0.5). */
  threshold?: number;
}

/** One 0/1 mask (or undefined when nothing was generated) per source slice, at the source size. */
export function mapMasksToSlices(
  generated: readonly GeneratedSliceMask[], source: Size & { depth: number }, options: MapMasksOptions = {},
): (Uint8Array | undefined)[] {
  const threshold = options.threshold ?? 0.5;
  const out: (Uint8Array | undefined)[] = new Array(source.depth).fill(undefined);
  for (const mask of generated) {
    if (!Number.isInteger(mask.sliceIndex) || mask.sliceIndex < 0 || mask.sliceIndex >= source.depth) {
      throw new RangeError('generated mask slice index out of range');
    }
    if (out[mask.sliceIndex]) throw new RangeError('two generated masks for one slice');
    const binary = thresholdMask(mask.values, threshold);
    out[mask.sliceIndex] = resizeNearest(binary, { rows: mask.rows, columns: mask.columns }, source);
  }
  return out;
}
