/**
 * Bicubic resampling with antialias, bit-compatible with Pillow's ImagingResample for 8-bit RGB
 * images (the resize the reference preprocessing uses). Pillow's algorithm: separable, horizontal
 * pass first (only over the source rows the vertical pass needs), filter support widened by the
 * downscale factor, cubic kernel with a = -0.5, coefficients normalized then converted to 22-bit
 * fixed point, and each pass rounds and clips back to uint8.
 * Ours because no Node image library reproduces Pillow bit for bit (sharp resamples with libvips' kernels).
 */
import type { RgbImage } from './types.ts';

const PRECISION_BITS = 32 - 8 - 2;
const BICUBIC_SUPPORT = 2;

function bicubic(x: number): number {
  const a = -0.5;
  const ax = Math.abs(x);
  if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
  if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
  return 0;
}

interface Coefficients {
  /** taps per output sample */
  ksize: number;
  /** per output sample: first source index and tap count */
  bounds: Int32Array;
  /** fixed-point weights, ksize per output sample */
  weights: Int32Array;
}

function precomputeCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    // C casts truncate toward zero
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x]! / ww : k[x]!;
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(acc: number): number {
  // acc fits in a double exactly (|acc| < 2^53); floor division by 2^22 = arithmetic shift
  const v = Math.floor(acc / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resizes an interleaved RGB uint8 image like Pillow's `Image.resize((w, h), Image.BICUBIC)`. */
export function resizeBicubic(image: RgbImage, width: number, height: number): RgbImage {
  if (width === image.width && height === image.height) {
    return { width, height, data: new Uint8Array(image.data) };
  }
  const horiz = precomputeCoefficients(image.width, width);
  const vert = precomputeCoefficients(image.height, height);
  const needHorizontal = width !== image.width;
  const needVertical = height !== image.height;
  const half = 1 << (PRECISION_BITS - 1);

  let src = image.data;
  let srcWidth = image.width;
  let rowOffset = 0;
  let vertBounds = vert.bounds;
  if (needHorizontal) {
    const yFirst = needVertical ? vert.bounds[0]! : 0;
    const yLast = needVertical ? vert.bounds[height * 2 - 2]! + vert.bounds[height * 2 - 1]! : image.height;
    if (needVertical) {
      vertBounds = new Int32Array(vert.bounds);
      for (let i = 0; i < height; i++) vertBounds[i * 2] = vertBounds[i * 2]! - yFirst;
    }
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(width * rows * 3);
    const { ksize, bounds, weights } = horiz;
    for (let y = 0; y < rows; y++) {
      const inRow = (y + yFirst) * image.width * 3;
      const outRow = y * width * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2]!;
        const xmax = bounds[xx * 2 + 1]!;
        const kOff = xx * ksize;
        let s0 = half;
        let s1 = half;
        let s2 = half;
        for (let x = 0; x < xmax; x++) {
          const w = weights[kOff + x]!;
          const p = inRow + (x + xmin) * 3;
          s0 += image.data[p]! * w;
          s1 += image.data[p + 1]! * w;
          s2 += image.data[p + 2]! * w;
        }
        const o = outRow + xx * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    src = tmp;
    srcWidth = width;
    rowOffset = 0;
  }
  if (!needVertical) return { width, height, data: src === image.data ? new Uint8Array(src) : src };

  const out = new Uint8Array(width * height * 3);
  const { ksize, weights } = vert;
  for (let yy = 0; yy < height; yy++) {
    const ymin = vertBounds[yy * 2]! + rowOffset;
    const ymax = vertBounds[yy * 2 + 1]!;
    const kOff = yy * ksize;
    for (let xx = 0; xx < srcWidth; xx++) {
      let s0 = half;
      let s1 = half;
      let s2 = half;
      for (let y = 0; y < ymax; y++) {
        const w = weights[kOff + y]!;
        const p = ((y + ymin) * srcWidth + xx) * 3;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      const o = (yy * width + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { width, height, data: out };
}
