import { describe, expect, it } from 'vitest';
import type { GeneratedImage } from '../../../src/dicom/writers/build-derived-image.ts';
import {
  MULTIFRAME_GRAYSCALE_BYTE_SC, MULTIFRAME_GRAYSCALE_WORD_SC, MULTIFRAME_TRUE_COLOR_SC, SECONDARY_CAPTURE_IMAGE_STORAGE, buildDerivedImage,
} from '../../../src/dicom/writers/build-derived-image.ts';
import { readPart10 } from '../../../src/dicom/writers/dcmjs-io.ts';
import { DicomObjectInvalidError } from '../../../src/shared/errors.ts';
import { dciodvfy } from '../../support/dciodvfy.ts';
import { ALLOWED_SC_WARNINGS, unexpectedWarnings } from './allowed-warnings.ts';
import { readPixelsWithPydicom } from './read-back.ts';
import { syntheticSource, testContext } from './synthetic-source.ts';

function image(format: GeneratedImage['format'], frameCount = 1, rows = 20, columns = 30): GeneratedImage {
  const samples = format === 'RGB8' ? 3 : 1;
  const frames = Array.from({ length: frameCount }, (_, f) => {
    const frame = format === 'GREY16' ? new Uint16Array(rows * columns) : new Uint8Array(rows * columns * samples);
    for (let i = 0; i < frame.length; i++) frame[i] = format === 'GREY16' ? (i * 997 + f * 31) % 65536 : (i * 7 + f) % 256;
    return frame;
  });
  return { rows, columns, format, frames };
}

async function expectValid(bytes: Uint8Array): Promise<void> {
  const result = await dciodvfy(bytes);
  expect(result.errors, result.output).toEqual([]);
  expect(unexpectedWarnings(result.warnings, ALLOWED_SC_WARNINGS), result.output).toEqual([]);
}

describe('buildDerivedImage', () => {
  const source = syntheticSource({ slices: 3 });

  it.each([
    ['GREY8', 1, SECONDARY_CAPTURE_IMAGE_STORAGE],
    ['RGB8', 1, SECONDARY_CAPTURE_IMAGE_STORAGE],
    ['GREY16', 1, SECONDARY_CAPTURE_IMAGE_STORAGE],
    ['GREY8', 3, MULTIFRAME_GRAYSCALE_BYTE_SC],
    ['GREY16', 2, MULTIFRAME_GRAYSCALE_WORD_SC],
    ['RGB8', 2, MULTIFRAME_TRUE_COLOR_SC],
  ] as const)('writes a valid %s SC with %i frame(s) whose pixels read back exactly', async (format, frames, sopClass) => {
    const generated = image(format, frames);
    const sc = buildDerivedImage({ source, context: testContext(), image: generated, sourceSliceIndices: [1] });
    expect(sc.sopClassUid).toBe(sopClass);
    await expectValid(sc.bytes);
    const read = await readPixelsWithPydicom(sc.bytes);
    expect(read.pixels).toEqual(generated.frames.flatMap((f) => [...f]));
    expect(read.imageType).toEqual(['DERIVED', 'SECONDARY']);
  });

  it('says AI-generated and research use, burns in nothing and points at the input instance', () => {
    const sc = buildDerivedImage({ source, context: testContext(), image: image('RGB8'), sourceSliceIndices: [2] });
    const { dataset } = readPart10(sc.bytes);
    expect(String(dataset['0008103E']!.Value![0])).toMatch(/^AI .*research use only/);
    expect(dataset['00280301']!.Value).toEqual(['NO']);
    expect(dataset['0020000D']!.Value).toEqual([source.geometry.studyInstanceUid]);
    const refs = dataset['00082112']!.Value as Record<string, { Value: unknown[] }>[];
    expect(refs.map((r) => r['00081155']!.Value[0])).toEqual([source.geometry.slices[2]!.sopInstanceUid]);
  });

  it('refuses frames of the wrong size or sample type and unknown source slices', () => {
    const build = (generated: GeneratedImage, slices?: number[]) =>
      () => buildDerivedImage({ source, context: testContext(), image: generated, sourceSliceIndices: slices });
    expect(build({ ...image('GREY8'), rows: 21 })).toThrow(DicomObjectInvalidError);
    expect(build({ ...image('GREY8'), format: 'GREY16' })).toThrow(DicomObjectInvalidError);
    expect(build({ ...image('GREY8'), frames: [] })).toThrow(DicomObjectInvalidError);
    expect(build(image('GREY8'), [3])).toThrow(DicomObjectInvalidError);
  });
});
