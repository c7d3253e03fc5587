// Nearest-neighbour resampling: the only resize that keeps a mask's labels exact.

export interface Size {
  rows: number;
  columns: number;
}

type PixelArray = Uint8Array | Uint16Array | Float32Array;

/** Resamples a row-major image (samples interleaved) to `to` by nearest neighbour (pixel centres aligned). */
export function resizeNearest<T extends PixelArray>(pixels: T, from: Size, to: Size, samplesPerPixel = 1): T {
  checkSize(pixels.length, from, samplesPerPixel);
  const out = new (pixels.constructor as new (n: number) => T)(to.rows * to.columns * samplesPerPixel);
  for (let r = 0; r < to.rows; r++) {
    const sr = Math.min(from.rows - 1, Math.floor(((r + 0.5) * from.rows) / to.rows));
    for (let c = 0; c < to.columns; c++) {
      const sc = Math.min(from.columns - 1, Math.floor(((c + 0.5) * from.columns) / to.columns));
      const src = (sr * from.columns + sc) * samplesPerPixel;
      const dst = (r * to.columns + c) * samplesPerPixel;
      for (let s = 0; s < samplesPerPixel; s++) out[dst + s] = pixels[src + s]!;
    }
  }
  return out;
}

export function checkSize(length: number, size: Size, samplesPerPixel: number): void {
  if (!Number.isInteger(size.rows) || !Number.isInteger(size.columns) || size.rows < 1 || size.columns < 1
    || length !== size.rows * size.columns * samplesPerPixel) {
    throw new RangeError('pixel array does not match its size');
  }
}
