// Splitting encapsulated pixel data (PS3.5 A.4) into one byte string per frame. Fragments after the Basic
// Offset Table item belong to frames by, in order: one fragment per frame, the offset table, or (JPEG family)
// collecting fragments until one ends with the EOI marker.
import { concatBytes } from '../../shared/concat-bytes.ts';

/** `fragments[0]` is the Basic Offset Table item; the rest are the fragments. */
export function splitFrames(fragments: Uint8Array[], frameCount: number, jpegFamily: boolean): Uint8Array[] {
  const [offsetTable, ...data] = fragments;
  if (data.length === 0) throw new Error('no pixel data fragments');
  if (data.length === frameCount) return data;
  if (frameCount === 1) return [concatBytes(data)];
  if (offsetTable && offsetTable.length >= frameCount * 4) return byOffsetTable(offsetTable, data, frameCount);
  if (jpegFamily) return byEndOfImage(data, frameCount);
  throw new Error('cannot tell which fragments belong to which frame');
}

function byOffsetTable(table: Uint8Array, data: Uint8Array[], frameCount: number): Uint8Array[] {
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const starts: number[] = [];
  for (let i = 0; i < frameCount; i++) starts.push(view.getUint32(i * 4, true));
  // Offsets count from the first fragment's item tag: each fragment takes 8 header bytes plus its length.
  const frames: Uint8Array[][] = starts.map(() => []);
  let at = 0;
  for (const fragment of data) {
    let frame = 0;
    while (frame + 1 < starts.length && (starts[frame + 1] ?? Infinity) <= at) frame++;
    frames[frame]?.push(fragment);
    at += 8 + fragment.length;
  }
  return frames.map((parts) => concatBytes(parts));
}

function byEndOfImage(data: Uint8Array[], frameCount: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let current: Uint8Array[] = [];
  for (const fragment of data) {
    current.push(fragment);
    if (endsWithEoi(fragment)) {
      frames.push(concatBytes(current));
      current = [];
    }
  }
  if (current.length > 0) frames.push(concatBytes(current));
  if (frames.length !== frameCount) throw new Error('fragment count does not match the number of frames');
  return frames;
}

function endsWithEoi(fragment: Uint8Array): boolean {
  // A fragment has even length, so a stream ending in FFD9 may carry one padding byte after it.
  for (let i = fragment.length - 1; i >= Math.max(1, fragment.length - 3); i--) {
    if (fragment[i - 1] === 0xff && fragment[i] === 0xd9) return true;
  }
  return false;
}
