import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PixelDecodeError, TransferSyntaxUnsupportedError } from '../../../src/shared/errors.ts';
import { loadCodecs, type Codecs } from '../../../src/dicom/pixels/codecs.ts';
import { decodeInstance } from '../../../src/dicom/pixels/decode-instance.ts';
import type { StoredFrame } from '../../../src/dicom/pixels/decoded-instance.ts';
import { ensureFixtures, type FixturePaths, type SampleFixture, type SampleName } from '../../support/fixtures.ts';

let fixtures: FixturePaths;
let codecs: Codecs;

beforeAll(async () => {
  [fixtures, codecs] = await Promise.all([ensureFixtures(), loadCodecs()]);
});

function readReference(s: SampleFixture): ArrayLike<number> {
  const raw = readFileSync(s.referencePath);
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  switch (s.referenceDtype) {
    case 'uint8': return new Uint8Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint16': return new Uint16Array(buf);
    case 'int16': return new Int16Array(buf);
  }
}

/** Largest absolute difference between our frames (concatenated) and the reference decoder's values. */
function maxDifference(frames: StoredFrame[], reference: ArrayLike<number>): number {
  let worst = 0;
  let i = 0;
  for (const frame of frames) {
    for (let k = 0; k < frame.length; k++, i++) worst = Math.max(worst, Math.abs((frame[k] ?? 0) - (reference[i] ?? NaN)));
  }
  if (i !== reference.length) return Infinity;
  return worst;
}

const LOCALLY_DECODED: SampleName[] = [
  'CT_small', 'MR_small', 'MR_small_implicit', 'MR_small_bigendian', 'MR_small_RLE', 'MR_small_jpeg_ls_lossless',
  'MR_small_jp2klossless', 'MR_small_jpeg_lossless_sv1', 'MR_small_jpeg_lossless', 'MR_small_mono1', 'SC_rgb',
  'SC_rgb_planar', 'SC_rgb_rle', 'SC_rgb_rle_2frame', 'SC_rgb_jpeg_dcmtk', 'SC_rgb_dcmtk_jpeg_rgb', 'SC_rgb_jpeg_422',
  'SC_rgb_jpeg_baseline_444', 'SC_ybr_full_422_uncompressed', 'JPEG2000', 'image_dfl', 'MF_grey',
  'MF_grey_jpeg_lossless_fragmented', 'MF_grey_jpeg_ls', 'MF_grey_rle', 'grey8', 'grey8_jpeg_baseline',
  'grey8_jpeg_lossless', 'grey8_jpeg_ls_near', 'CT12_signed', 'CT12_signed_jpeg_lossless', 'CT12_signed_jpeg_ls',
  'CT12_signed_rle', 'SC_rgb_jpeg_ls', 'SC_rgb_jpeg_ls_planar', 'SC_rgb_j2k_rct',
];

describe('decodeInstance against reference decoders', () => {
  it.each(LOCALLY_DECODED)('%s decodes to the reference stored values', (name) => {
    const sample = fixtures.samples[name];
    const decoded = decodeInstance(readFileSync(sample.path), codecs);
    expect(decoded.transferSyntaxUid).toBe(sample.transferSyntaxUid);
    expect(decoded.sopInstanceUid).toBe(sample.sopInstanceUid);
    expect(decoded.seriesInstanceUid).toBe(sample.seriesInstanceUid);
    expect(decoded.studyInstanceUid).toBe(sample.studyInstanceUid);
    expect([decoded.rows, decoded.columns, decoded.numberOfFrames, decoded.samplesPerPixel])
      .toEqual([sample.rows, sample.columns, sample.frames, sample.samplesPerPixel]);
    expect(decoded.photometricInterpretation).toBe(sample.referencePhotometric);
    expect(decoded.frames).toHaveLength(sample.frames);
    expect(maxDifference(decoded.frames, readReference(sample))).toBeLessThanOrEqual(sample.tolerance);
  });
});

describe('decodeInstance attributes and refusals', () => {
  it.each([
    ['MR_small_jp2klossless', 'MR_small'],
    ['SC_rgb_j2k_rct', 'SC_rgb'],
  ] as const)('%s (lossless JPEG 2000) equals its uncompressed original %s', (compressed, original) => {
    const a = decodeInstance(readFileSync(fixtures.samples[compressed].path), codecs);
    const b = decodeInstance(readFileSync(fixtures.samples[original].path), codecs);
    expect(a.frames[0]!.constructor).toBe(b.frames[0]!.constructor);
    expect(Array.from(a.frames[0]!)).toEqual(Array.from(b.frames[0]!));
  });

  it('refuses 12-bit JPEG extended with TransferSyntaxUnsupportedError naming the syntax', () => {
    const run = () => decodeInstance(readFileSync(fixtures.samples.JPGExtended.path), codecs);
    expect(run).toThrow(TransferSyntaxUnsupportedError);
    expect(run).toThrow(expect.objectContaining({ transferSyntaxUid: '1.2.840.10008.1.2.4.51' }));
  });

  it('refuses a transfer syntax it does not know', () => {
    const bytes = new Uint8Array(readFileSync(fixtures.samples.MR_small.path));
    const text = Buffer.from(bytes);
    const at = text.indexOf('1.2.840.10008.1.2.1\0');
    expect(at).toBeGreaterThan(0);
    text.write('1.2.840.10008.1.2.99', at, 'latin1'); // same length, no decoder
    expect(() => decodeInstance(text, codecs)).toThrow(TransferSyntaxUnsupportedError);
  });

  it('wraps a corrupt codestream in PixelDecodeError', () => {
    const bytes = Buffer.from(readFileSync(fixtures.samples.MR_small_jpeg_ls_lossless.path));
    const soi = bytes.indexOf(Buffer.from([0xff, 0xd8, 0xff, 0xf7]));
    expect(soi).toBeGreaterThan(0);
    bytes.fill(0xaa, soi + 4, soi + 40); // destroy the JPEG-LS frame header
    expect(() => decodeInstance(bytes, codecs)).toThrow(PixelDecodeError);
  });

  it('keeps MONOCHROME1 as stored', () => {
    const mono1 = decodeInstance(readFileSync(fixtures.samples.MR_small_mono1.path), codecs);
    const mono2 = decodeInstance(readFileSync(fixtures.samples.MR_small.path), codecs);
    expect(mono1.photometricInterpretation).toBe('MONOCHROME1');
    expect(Array.from(mono1.frames[0]!)).toEqual(Array.from(mono2.frames[0]!));
  });

  it('reads enhanced multi-frame geometry from the functional groups', () => {
    const d = decodeInstance(readFileSync(fixtures.samples.MF_grey_jpeg_ls.path), codecs);
    expect(d.numberOfFrames).toBe(6);
    expect(d.framePositions.map((p) => p?.[2])).toEqual([10, 7, 4, 1, -2, -5]);
    expect(d.imageOrientationPatient).toEqual([1, 0, 0, 0, 1, 0]);
    expect(d.pixelSpacing).toEqual([5.6, 5.6]);
    expect(d.sliceThickness).toBe(3);
    expect(d.window).toEqual({ center: 40, width: 400 });
    expect(d.frameRescales.every((r) => r.slope === 1 && r.intercept === -1024)).toBe(true);
  });

  it('reports colour as interleaved RGB whatever the stored layout', () => {
    const planar = decodeInstance(readFileSync(fixtures.samples.SC_rgb_planar.path), codecs);
    const interleaved = decodeInstance(readFileSync(fixtures.samples.SC_rgb.path), codecs);
    expect(planar.photometricInterpretation).toBe('RGB');
    expect(Array.from(planar.frames[0]!)).toEqual(Array.from(interleaved.frames[0]!));
    const ybr = decodeInstance(readFileSync(fixtures.samples.SC_rgb_jpeg_dcmtk.path), codecs);
    expect(ybr.storedPhotometricInterpretation).toBe('YBR_FULL');
    expect(ybr.photometricInterpretation).toBe('RGB');
  });
});

describe('decodeInstance input handling', () => {
  it('leaves the caller bytes untouched and returns frames that own their memory', () => {
    const bytes = readFileSync(fixtures.samples.MR_small_bigendian.path);
    const before = Buffer.from(bytes);
    const decoded = decodeInstance(bytes, codecs);
    expect(bytes.equals(before)).toBe(true);
    expect(decoded.frames[0]!.buffer).not.toBe(bytes.buffer);
    // The dataset keeps its attributes but neither the pixel data nor the caller's buffer.
    expect(decoded.dataset.has(0x7fe00010)).toBe(false);
    expect(decoded.dataset.string(0x00080018)).toBe(decoded.sopInstanceUid);
    for (const el of decoded.dataset.elements.values()) expect(el.value.buffer).not.toBe(bytes.buffer);
  });
});
