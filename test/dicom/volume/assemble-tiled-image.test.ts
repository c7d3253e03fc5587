import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCodecs, type Codecs } from '../../../src/dicom/pixels/codecs.ts';
import { decodeInstance } from '../../../src/dicom/pixels/decode-instance.ts';
import { assembleTiledImage } from '../../../src/dicom/volume/assemble-tiled-image.ts';
import { assembleVolume } from '../../../src/dicom/volume/assemble-volume.ts';
import { VolumeAssemblyError } from '../../../src/shared/errors.ts';
import { ensureFixtures } from '../../support/fixtures.ts';
import type { ModalitySeries } from '../../support/modality-studies.ts';

// The synthesised whole-slide pyramid (scripts/make-modality-samples.py): TILED_FULL levels of 256x256 JPEG tiles.
let codecs: Codecs;
let slide: ModalitySeries;

beforeAll(async () => {
  [codecs, slide] = await Promise.all([loadCodecs(), (async () => (await (await ensureFixtures()).modalityStudies()).studies.wholeSlide.series.slide)()]);
});

const level = (columns: number) => {
  const instance = slide.instances.find((i) => i.totalPixelMatrixColumns === columns && i.imageType?.[2] === 'VOLUME');
  if (!instance) throw new Error(`no level of ${columns} columns`);
  return { instance, decoded: decodeInstance(readFileSync(instance.path), codecs) };
};

describe('assembleTiledImage', () => {
  it('puts every TILED_FULL tile of a level at its place in the total pixel matrix, clipping the edge tiles', () => {
    const { instance, decoded } = level(1024);
    expect(decoded.numberOfFrames).toBe(16);
    const image = assembleTiledImage(decoded);
    expect([image.columns, image.rows, image.numberOfFrames, image.frames.length]).toEqual([1024, 960, 1, 1]);
    const full = image.frames[0]!;
    expect(full.length).toBe(1024 * 960 * 3);
    // Tile (row 1, column 2) is frame 4 * 1 + 2: its first row sits at matrix row 256, column 512.
    const tile = decoded.frames[6]!;
    const at = (256 * 1024 + 512) * 3;
    expect([...full.subarray(at, at + 256 * 3)]).toEqual([...tile.subarray(0, 256 * 3)]);
    // The last tile row is clipped: matrix row 959 is tile row 191 of the bottom tiles.
    const bottom = decoded.frames[12]!;
    expect([...full.subarray(959 * 1024 * 3, 959 * 1024 * 3 + 30)]).toEqual([...bottom.subarray(191 * 256 * 3, 191 * 256 * 3 + 30)]);
    // Each tile's mean matches what the generator wrote (first tile, wholly inside the matrix).
    const means = [0, 1, 2].map((c) => {
      let sum = 0;
      for (let y = 0; y < 256; y += 1) for (let x = 0; x < 256; x += 1) sum += full[(y * 1024 + x) * 3 + c]!;
      return sum / 65536;
    });
    means.forEach((m, c) => expect(m).toBeCloseTo(instance.pixels!.frameMeans[0]![c]!, 0));
  });

  it('gives one-image volumes whose size is the level, ready for the model', () => {
    const volume = assembleVolume([assembleTiledImage(level(512).decoded)]);
    expect([volume.columns, volume.rows, volume.depth, volume.samplesPerPixel, volume.modality]).toEqual([512, 480, 1, 3, 'SM']);
    expect(volume.slices).toEqual([expect.objectContaining({ frameNumber: 1 })]);
  });

  it('refuses an instance that is not a tiled level, with a stable code', () => {
    const label = slide.instances.find((i) => i.imageType?.[2] === 'LABEL')!;
    const decoded = decodeInstance(readFileSync(label.path), codecs);
    const untiled = { ...decoded, dataset: decodeInstance(readFileSync(level(256).instance.path), codecs).dataset, numberOfFrames: 0, frames: [] };
    expect(() => assembleTiledImage(untiled)).toThrow(VolumeAssemblyError);
  });
});
