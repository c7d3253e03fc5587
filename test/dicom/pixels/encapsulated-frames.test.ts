import { describe, expect, it } from 'vitest';
import { splitFrames } from '../../../src/dicom/pixels/encapsulated-frames.ts';

const jpeg = (body: number[], pad = false) => Uint8Array.from([0xff, 0xd8, ...body, 0xff, 0xd9, ...(pad ? [0] : [])]);
const noTable = new Uint8Array(0);

describe('splitFrames', () => {
  it('maps one fragment to one frame when the counts agree', () => {
    const a = jpeg([1]), b = jpeg([2]);
    expect(splitFrames([noTable, a, b], 2, true)).toEqual([a, b]);
  });

  it('joins all fragments of a single frame', () => {
    expect(Array.from(splitFrames([noTable, Uint8Array.of(1, 2), Uint8Array.of(3, 4)], 1, false)[0]!)).toEqual([1, 2, 3, 4]);
  });

  it('groups fragments by the Basic Offset Table', () => {
    const f1 = [Uint8Array.of(1, 1), Uint8Array.of(2, 2)];
    const f2 = [Uint8Array.of(3, 3, 3, 3)];
    const table = new Uint8Array(8);
    new DataView(table.buffer).setUint32(4, 8 + 2 + 8 + 2, true); // frame 2 starts after two 2-byte fragments
    const frames = splitFrames([table, ...f1, ...f2], 2, false);
    expect(frames.map((f) => Array.from(f))).toEqual([[1, 1, 2, 2], [3, 3, 3, 3]]);
  });

  it('without a table, ends JPEG frames at the EOI marker (padding byte allowed)', () => {
    const first = jpeg([1, 2, 3], true);
    const frames = splitFrames([noTable, first.subarray(0, 4), first.subarray(4), jpeg([9])], 2, true);
    expect(frames.map((f) => Array.from(f))).toEqual([Array.from(first), Array.from(jpeg([9]))]);
  });

  it('refuses fragments it cannot assign', () => {
    expect(() => splitFrames([noTable, Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)], 2, false)).toThrow();
  });
});
