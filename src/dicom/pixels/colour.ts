// Colour layout fixes after decoding: planar (RRR..GGG..BBB) to interleaved, and YBR_FULL / YBR_FULL_422 to RGB
// with the PS3.3 C.7.6.3.1.2 equations.

export function planarToInterleaved(planes: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    out[i * 3] = planes[i] ?? 0;
    out[i * 3 + 1] = planes[pixels + i] ?? 0;
    out[i * 3 + 2] = planes[2 * pixels + i] ?? 0;
  }
  return out;
}

/** Uncompressed YBR_FULL_422 stores Y1 Y2 Cb Cr for each pair of pixels: expand to Y Cb Cr per pixel. */
export function expandYbr422(packed: Uint8Array, rows: number, columns: number): Uint8Array {
  const out = new Uint8Array(rows * columns * 3);
  let p = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c += 2) {
      const y1 = packed[p] ?? 0, y2 = packed[p + 1] ?? 0, cb = packed[p + 2] ?? 0, cr = packed[p + 3] ?? 0;
      p += 4;
      const o = (r * columns + c) * 3;
      out[o] = y1; out[o + 1] = cb; out[o + 2] = cr;
      if (c + 1 < columns) { out[o + 3] = y2; out[o + 4] = cb; out[o + 5] = cr; }
    }
  }
  return out;
}

/** In place: interleaved Y Cb Cr (full range) to R G B. */
export function ybrFullToRgb(data: Uint8Array): Uint8Array {
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i + 2 < data.length; i += 3) {
    const y = data[i] ?? 0, cb = (data[i + 1] ?? 0) - 128, cr = (data[i + 2] ?? 0) - 128;
    data[i] = clamp(y + 1.402 * cr);
    data[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    data[i + 2] = clamp(y + 1.772 * cb);
  }
  return data;
}
