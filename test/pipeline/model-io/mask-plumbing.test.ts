import { describe, expect, it } from 'vitest';
import { greyToRgb } from '../../../src/pipeline/model-io/grey-to-rgb.ts';
import { mapMasksToSlices } from '../../../src/pipeline/model-io/map-masks-to-slices.ts';
import { resizeNearest } from '../../../src/pipeline/model-io/resize-nearest.ts';
import { resizeToSourceAspect, sizeForAspect } from '../../../src/pipeline/model-io/resize-image.ts';
import { thresholdMask } from '../../../src/pipeline/model-io/threshold.ts';

describe('resizeNearest', () => {
  it('scales a mask up and down without inventing labels', () => {
    const mask = Uint8Array.from([1, 0, 0, 2]); // 2x2
    expect([...resizeNearest(mask, { rows: 2, columns: 2 }, { rows: 4, columns: 4 })]).toEqual([
      1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 2, 2, 0, 0, 2, 2,
    ]);
    const big = resizeNearest(mask, { rows: 2, columns: 2 }, { rows: 4, columns: 4 });
    expect([...resizeNearest(big, { rows: 4, columns: 4 }, { rows: 2, columns: 2 })]).toEqual([1, 0, 0, 2]);
    expect(new Set(resizeNearest(mask, { rows: 2, columns: 2 }, { rows: 7, columns: 5 }))).toEqual(new Set([0, 1, 2]));
  });

  it('refuses an array that does not match its size', () => {
    expect(() => resizeNearest(new Uint8Array(5), { rows: 2, columns: 2 }, { rows: 4, columns: 4 })).toThrow(RangeError);
  });
});

describe('thresholdMask and mapMasksToSlices', () => {
  it('thresholds at >= and maps each generated mask onto its own slice at source size', () => {
    expect([...thresholdMask(Float32Array.from([0.1, 0.5, 0.9]), 0.5)]).toEqual([0, 1, 1]);
    const masks = mapMasksToSlices(
      [{ sliceIndex: 2, rows: 2, columns: 2, values: Float32Array.from([0.9, 0, 0, 0.7]) }],
      { rows: 4, columns: 4, depth: 3 },
    );
    expect(masks[0]).toBeUndefined();
    expect(masks[1]).toBeUndefined();
    expect([...masks[2]!]).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]);
  });

  it('refuses a slice index outside the source and two masks for one slice', () => {
    const one = { sliceIndex: 0, rows: 1, columns: 1, values: Uint8Array.from([1]) };
    expect(() => mapMasksToSlices([{ ...one, sliceIndex: 3 }], { rows: 1, columns: 1, depth: 3 })).toThrow(RangeError);
    expect(() => mapMasksToSlices([one, one], { rows: 1, columns: 1, depth: 3 })).toThrow(RangeError);
  });
});

describe('resize to source aspect and grey to RGB', () => {
  it('keeps the generated long side and takes the source aspect', () => {
    expect(sizeForAspect({ rows: 256, columns: 256 }, { rows: 512, columns: 384 })).toEqual({ rows: 256, columns: 192 });
    expect(sizeForAspect({ rows: 256, columns: 256 }, { rows: 300, columns: 600 })).toEqual({ rows: 128, columns: 256 });
    const flat = new Uint8Array(16).fill(77);
    const resized = resizeToSourceAspect(flat, { rows: 4, columns: 4 }, { rows: 2, columns: 1 });
    expect(resized.size).toEqual({ rows: 4, columns: 2 });
    expect([...resized.pixels]).toEqual(new Array(8).fill(77));
  });

  it('replicates grey into three samples', () => {
    expect([...greyToRgb(Uint8Array.from([0, 200]))]).toEqual([0, 0, 0, 200, 200, 200]);
  });
});
