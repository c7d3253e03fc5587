// BINARY SEG pixel data (PS3.5 8.1.1, PS3.3 C.8.20.2): one bit per pixel, the first pixel in the
// least significant bit of the first byte, frames concatenated bit after bit with no per-frame padding,
// the whole value padded with zero bits to an even number of bytes.

/** Packs 0/1 frames (each rows*columns, row-major) into one bit stream. */
export function packBinaryFrames(frames: readonly Uint8Array[], pixelsPerFrame: number): Uint8Array {
  const totalBits = frames.length * pixelsPerFrame;
  const byteCount = Math.ceil(totalBits / 8);
  const packed = new Uint8Array(byteCount + (byteCount % 2));
  let bit = 0;
  for (const frame of frames) {
    for (let i = 0; i < pixelsPerFrame; i++, bit++) {
      if (frame[i]) packed[bit >> 3]! |= 1 << (bit & 7);
    }
  }
  return packed;
}

/** Inverse of packBinaryFrames (for read-back checks and tests). */
export function unpackBinaryFrames(packed: Uint8Array, frameCount: number, pixelsPerFrame: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let bit = 0;
  for (let f = 0; f < frameCount; f++) {
    const frame = new Uint8Array(pixelsPerFrame);
    for (let i = 0; i < pixelsPerFrame; i++, bit++) frame[i] = (packed[bit >> 3]! >> (bit & 7)) & 1;
    frames.push(frame);
  }
  return frames;
}
