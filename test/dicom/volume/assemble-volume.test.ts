import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { VolumeAssemblyError } from '../../../src/shared/errors.ts';
import { loadCodecs, type Codecs } from '../../../src/dicom/pixels/codecs.ts';
import { decodeInstance } from '../../../src/dicom/pixels/decode-instance.ts';
import type { DecodedInstance } from '../../../src/dicom/pixels/decoded-instance.ts';
import { assembleVolume } from '../../../src/dicom/volume/assemble-volume.ts';
import { ensureFixtures, type CtSeriesFixture, type FixturePaths, type SampleName } from '../../support/fixtures.ts';

let fixtures: FixturePaths;
let codecs: Codecs;
let ct: CtSeriesFixture;
let ctInstances: DecodedInstance[];

const decode = (name: SampleName) => decodeInstance(readFileSync(fixtures.samples[name].path), codecs);

beforeAll(async () => {
  fixtures = await ensureFixtures();
  [ct, codecs] = await Promise.all([fixtures.ctSeries(), loadCodecs()]);
  ctInstances = ct.variants['jpeg-ls-lossless'].files.map((f) => decodeInstance(readFileSync(f), codecs));
});

describe('assembleVolume', () => {
  it('orders shuffled CT slices along the normal and applies the rescale', () => {
    const volume = assembleVolume(ctInstances);
    expect(volume.depth).toBe(ct.slices);
    const zs = volume.slices.map((s) => s.imagePositionPatient?.[2] ?? NaN);
    expect(zs).toEqual([...ct.positionsZ].sort((a, b) => a - b));
    // The input order was neither spatial nor by instance number.
    expect(ctInstances.map((i) => i.framePositions[0]?.[2])).not.toEqual(zs);
    const numbers = ctInstances.map((i) => i.instanceNumber ?? 0);
    expect(numbers).not.toEqual([...numbers].sort((a, b) => a - b));
    const numbersInVolumeOrder = volume.slices.map((s) => ctInstances.find((i) => i.sopInstanceUid === s.sopInstanceUid)!.instanceNumber ?? 0);
    expect(numbersInVolumeOrder).not.toEqual([...numbersInVolumeOrder].sort((a, b) => a - b));
    const sliceLength = 512 * 512;
    volume.slices.forEach((slice, z) => {
      const source = ctInstances.find((i) => i.sopInstanceUid === slice.sopInstanceUid)!;
      expect(slice.frameNumber).toBe(1);
      expect(slice.sopClassUid).toBe('1.2.840.10008.5.1.4.1.1.2');
      for (const at of [0, 130_000, 131_328, sliceLength - 1]) {
        expect(volume.pixels[z * sliceLength + at]).toBe(source.frames[0]![at]! - 1024);
      }
    });
    expect(volume).toMatchObject({
      rows: 512, columns: 512, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2', modality: 'CT',
      pixelSpacing: [0.7, 0.7], sliceThickness: 2.5, spacingBetweenSlices: 2, bitsStored: 16,
      imageOrientationPatient: [1, 0, 0, 0, 1, 0], frameOfReferenceUid: ct.frameOfReferenceUid,
      window: { center: 40, width: 400 }, seriesInstanceUid: ct.variants['jpeg-ls-lossless'].seriesInstanceUid,
    });
    expect(volume.pixels).toHaveLength(ct.slices * sliceLength);
    expect(volume.pixels.reduce((m, v) => Math.min(m, v), Infinity)).toBe(-3024); // padding -2000 stored
  });

  it('leaves spacingBetweenSlices out when a slice is missing', () => {
    const volume = assembleVolume(ctInstances.filter((i) => i.framePositions[0]?.[2] !== ct.positionsZ[5]));
    expect(volume.depth).toBe(ct.slices - 1);
    expect(volume.spacingBetweenSlices).toBeUndefined();
    expect(volume.sliceThickness).toBe(2.5);
  });

  it('falls back to InstanceNumber when the images carry no geometry', () => {
    const stripped = ctInstances.slice(0, 8).map((i) => ({ ...i, framePositions: [undefined], imageOrientationPatient: undefined }));
    const volume = assembleVolume(stripped);
    const numbers = volume.slices.map((s) => stripped.find((i) => i.sopInstanceUid === s.sopInstanceUid)!.instanceNumber);
    expect(numbers).toEqual([...numbers].sort((a, b) => a! - b!));
    expect(volume.spacingBetweenSlices).toBeUndefined();
  });

  it('turns every frame of a multi-frame instance into a slice, sorted by position', () => {
    const mf = decode('MF_grey_rle');
    const volume = assembleVolume([mf]);
    expect(volume.depth).toBe(6);
    expect(volume.slices.map((s) => s.frameNumber)).toEqual([6, 5, 4, 3, 2, 1]); // stored top-down
    expect(volume.slices.map((s) => s.imagePositionPatient?.[2])).toEqual([-5, -2, 1, 4, 7, 10]);
    expect(volume.spacingBetweenSlices).toBe(3);
    expect(volume.pixels[0]).toBe(mf.frames[5]![0]! - 1024);
  });

  it('keeps RGB interleaved and unscaled', () => {
    const rgb = decode('SC_rgb_rle_2frame');
    const volume = assembleVolume([rgb]);
    expect(volume).toMatchObject({ samplesPerPixel: 3, photometricInterpretation: 'RGB', depth: 2, rows: 100, columns: 100 });
    expect(Array.from(volume.pixels.subarray(0, 30_000))).toEqual(Array.from(rgb.frames[0]!));
    expect(Array.from(volume.pixels.subarray(30_000))).toEqual(Array.from(rgb.frames[1]!));
  });

  it('flags MONOCHROME1 and keeps its values as stored', () => {
    const mono1 = decode('MR_small_mono1');
    const volume = assembleVolume([mono1]);
    expect(volume.photometricInterpretation).toBe('MONOCHROME1');
    expect(Array.from(volume.pixels)).toEqual(Array.from(mono1.frames[0]!));
  });

  it('refuses mixed image sizes, mixed series and an empty list', () => {
    const mr = decode('MR_small');
    const other = { ...decode('CT_small'), seriesInstanceUid: mr.seriesInstanceUid };
    expect(() => assembleVolume([mr, other])).toThrow(VolumeAssemblyError);
    expect(() => assembleVolume([mr, other])).toThrow(expect.objectContaining({ detail: 'mixed image sizes' }));
    expect(() => assembleVolume([mr, decode('CT_small')])).toThrow(expect.objectContaining({ detail: 'instances from several series' }));
    expect(() => assembleVolume([])).toThrow(VolumeAssemblyError);
  });

  it('refuses a photometric interpretation it cannot turn into values', () => {
    const palette = { ...decode('MR_small'), photometricInterpretation: 'PALETTE COLOR' };
    expect(() => assembleVolume([palette])).toThrow(expect.objectContaining({ detail: 'unsupported photometric interpretation' }));
  });

  it('refuses grey and colour frames in one volume', () => {
    const grey = decode('MR_small');
    const colour = { ...decode('SC_rgb'), seriesInstanceUid: grey.seriesInstanceUid, rows: grey.rows, columns: grey.columns };
    expect(() => assembleVolume([grey, colour])).toThrow(expect.objectContaining({ detail: 'mixed photometric interpretations' }));
  });
});
