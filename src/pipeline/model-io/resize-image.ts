// Generated images come out square (the model's canvas); put them back in the source's aspect.
import type { Size } from './resize-nearest.ts';
import { checkSize } from './resize-nearest.ts';

/** Size with the source's aspect ratio, keeping the generated image's longer side. */
export function sizeForAspect(generated: Size, source: Size): Size {
  const longer = Math.max(generated.rows, generated.columns);
  if (source.rows >= source.columns) {
    return { rows: longer, columns: Math.max(1, Math.round((longer * source.columns) / source.rows)) };
  }
  return { rows: Math.max(1, Math.round((longer * source.rows) / source.columns)), columns: longer };
}

/** Bilinear resampling of an 8-bit image (samples interleaved), pixel centres aligned. */
export function resizeBilinear(pixels: Uint8Array, from: Size, to: Size, samplesPerPixel = 1): Uint8Array {
  checkSize(pixels.length, from, samplesPerPixel);
  const out = new Uint8Array(to.rows * to.columns * samplesPerPixel);
  for (let r = 0; r < to.rows; r++) {
    const y = Math.min(from.rows - 1, Math.max(0, ((r + 0.5) * from.rows) / to.rows - 0.5));
    const y0 = Math.floor(y);
    const y1 = Math.min(from.rows - 1, y0 + 1);
    const fy = y - y0;
    for (let c = 0; c < to.columns; c++) {
      const x = Math.min(from.columns - 1, Math.max(0, ((c + 0.5) * from.columns) / to.columns - 0.5));
      const x0 = Math.floor(x);
      const x1 = Math.min(from.columns - 1, x0 + 1);
      const fx = x - x0;
      for (let s = 0; s < samplesPerPixel; s++) {
        const at = (yy: number, xx: number) => pixels[(yy * from.columns + xx) * samplesPerPixel + s]!;
        const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
        const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        out[(r * to.columns + c) * samplesPerPixel + s] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return out;
}

/** Resizes a generated image to the source's aspect ratio (see sizeForAspect). */
export function resizeToSourceAspect(
  pixels: Uint8Array, generated: Size, source: Size, samplesPerPixel = 1,
): { pixels: Uint8Array; size: Size } {
  const size = sizeForAspect(generated, source);
  return { pixels: resizeBilinear(pixels, generated, size, samplesPerPixel), size };
}
