import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DicomParseError } from '../../../src/shared/errors.ts';
import { readPart10 } from '../../../src/dicom/pixels/read-part10.ts';
import { TAG } from '../../../src/dicom/tags.ts';
import { ensureFixtures, type FixturePaths } from '../../support/fixtures.ts';

let fixtures: FixturePaths;
beforeAll(async () => {
  fixtures = await ensureFixtures();
});

/** Explicit VR little endian element bytes. */
function element(group: number, el: number, vr: string, value: Uint8Array, undefinedLength = false): Uint8Array {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const head = new DataView(new ArrayBuffer(long ? 12 : 8));
  head.setUint16(0, group, true);
  head.setUint16(2, el, true);
  head.setUint8(4, vr.charCodeAt(0));
  head.setUint8(5, vr.charCodeAt(1));
  if (long) head.setUint32(8, undefinedLength ? 0xffffffff : value.length, true);
  else head.setUint16(6, value.length, true);
  return concat([new Uint8Array(head.buffer), value]);
}
function delimiter(el: number, length = 0): Uint8Array {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint16(0, 0xfffe, true);
  v.setUint16(2, el, true);
  v.setUint32(4, length, true);
  return new Uint8Array(v.buffer);
}
const text = (s: string) => {
  const b = new TextEncoder().encode(s);
  return b.length % 2 ? concat([b, Uint8Array.of(0x20)]) : b;
};
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
function part10(body: Uint8Array[]): Uint8Array {
  const ts = text('1.2.840.10008.1.2.1\0');
  return concat([new Uint8Array(128), text('DICM'), element(0x0002, 0x0010, 'UI', ts), ...body]);
}

describe('readPart10', () => {
  it('reads the same attributes from implicit, explicit and big-endian encodings', () => {
    for (const name of ['MR_small', 'MR_small_implicit', 'MR_small_bigendian'] as const) {
      const { dataset, transferSyntaxUid } = readPart10(readFileSync(fixtures.samples[name].path));
      expect(transferSyntaxUid).toBe(fixtures.samples[name].transferSyntaxUid);
      expect(dataset.string(TAG.SOPInstanceUID)).toBe(fixtures.samples[name].sopInstanceUid);
      expect(dataset.uint16(TAG.Rows)).toBe(64);
      expect(dataset.numbers(TAG.PixelSpacing)).toEqual([0.3125, 0.3125]);
      expect(dataset.numbers(TAG.ImageOrientationPatient)).toHaveLength(6);
    }
  });

  it('inflates the deflated transfer syntax', () => {
    const { dataset } = readPart10(readFileSync(fixtures.samples.image_dfl.path));
    expect(dataset.uint16(TAG.Columns)).toBe(512);
    expect(dataset.element(TAG.PixelData)?.value.length).toBe(512 * 512);
  });

  it('decodes text by Specific Character Set and walks undefined-length sequences', () => {
    const item = concat([delimiter(0xe000, 0xffffffff), element(0x0020, 0x0032, 'DS', text('1\\2\\3.5')), delimiter(0xe00d)]);
    const bytes = part10([
      element(0x0008, 0x0005, 'CS', text('ISO_IR 192')),
      element(0x0010, 0x0010, 'PN', text('Müller^Zoë')),
      element(0x0020, 0x9113, 'SQ', concat([item, delimiter(0xe0dd)]), true),
      element(0x0028, 0x0010, 'US', Uint8Array.of(7, 1)),
    ]);
    const { dataset } = readPart10(bytes);
    expect(dataset.string(0x00100010)).toBe('Müller^Zoë');
    expect(dataset.items(TAG.PlanePositionSequence)[0]?.numbers(TAG.ImagePositionPatient)).toEqual([1, 2, 3.5]);
    expect(dataset.uint16(TAG.Rows)).toBe(263); // parsing went on after the sequence
  });

  it('throws DicomParseError for truncated input', () => {
    const bytes = readFileSync(fixtures.samples.SC_rgb_rle.path);
    expect(() => readPart10(bytes.subarray(0, bytes.length - 100))).toThrow(DicomParseError);
  });
});
