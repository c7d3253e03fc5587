// Probability (or score) map to a 0/1 mask.

/** 1 where value >= threshold, else 0. */
export function thresholdMask(values: Float32Array | Uint8Array, threshold: number): Uint8Array {
  const mask = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) mask[i] = values[i]! >= threshold ? 1 : 0;
  return mask;
}
