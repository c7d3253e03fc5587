// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, then one PackBits segment per
// byte plane (most significant byte first, one set per sample). Output: little-endian bytes, samples interleaved.
// Ours because no dependency decodes RLE in Node (the cornerstone codecs cover JPEG, JPEG-LS, JPEG 2000 only).

/** Decodes one RLE frame into `rows * columns * samples * bytesPerSample` bytes (little endian, interleaved). */
export function decodeRleFrame(frame: Uint8Array, pixels: number, samples: number, bytesPerSample: number): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 64) throw new Error('RLE header too short');
  const segmentCount = view.getUint32(0, true);
  if (segmentCount !== samples * bytesPerSample) throw new Error('RLE segment count does not match the image');
  const out = new Uint8Array(pixels * samples * bytesPerSample);
  const stride = samples * bytesPerSample;
  for (let s = 0; s < segmentCount; s++) {
    const start = view.getUint32(4 + s * 4, true);
    const end = s + 1 < segmentCount ? view.getUint32(8 + s * 4, true) : frame.length;
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segments run MSB first; we write little endian
    unpackSegment(frame, start, Math.min(end, frame.length), out, sample * bytesPerSample + byteInSample, stride, pixels);
  }
  return out;
}

function unpackSegment(src: Uint8Array, start: number, end: number, out: Uint8Array, first: number, stride: number,
  count: number): void {
  let o = 0;
  let p = start;
  while (p < end && o < count) {
    const n = src[p++] ?? 0;
    if (n < 128) {
      for (let i = 0; i <= n && o < count; i++) out[first + stride * o++] = src[p++] ?? 0;
    } else if (n > 128) {
      const value = src[p++] ?? 0;
      for (let i = 0; i < 257 - n && o < count; i++) out[first + stride * o++] = value;
    } // 128: no operation
  }
  if (o < count) throw new Error('RLE segment ends early');
}
