import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCodecs, type Codecs } from '../../../src/dicom/pixels/codecs.ts';
import { decodeInstance } from '../../../src/dicom/pixels/decode-instance.ts';
import { CT_VARIANTS, ensureFixtures, type CtSeriesFixture } from '../../support/fixtures.ts';

let ct: CtSeriesFixture;
let codecs: Codecs;
/** Stored values of every slice of the uncompressed series, the truth for all lossless variants. */
let original: Int16Array[];

beforeAll(async () => {
  const fixtures = await ensureFixtures();
  [ct, codecs] = await Promise.all([fixtures.ctSeries(), loadCodecs()]);
  original = ct.variants['explicit-le'].files.map((f) => {
    const raw = readFileSync(f);
    // The last 512*512*2 bytes of an uncompressed instance are its pixel data (it is the last element).
    const px = raw.subarray(raw.length - 512 * 512 * 2);
    return new Int16Array(px.buffer.slice(px.byteOffset, px.byteOffset + px.byteLength));
  });
});

describe('the synthesized CT series in every transfer syntax', () => {
  it.each(CT_VARIANTS)('%s decodes every slice to the original stored values', (variant) => {
    const files = ct.variants[variant].files;
    expect(files).toHaveLength(ct.slices);
    files.forEach((file, i) => {
      const d = decodeInstance(readFileSync(file), codecs);
      expect(d.transferSyntaxUid).toBe(ct.variants[variant].transferSyntaxUid);
      expect(d.frames[0]).toBeInstanceOf(Int16Array);
      expect(Buffer.from((d.frames[0] as Int16Array).buffer, (d.frames[0] as Int16Array).byteOffset, 512 * 512 * 2)
        .equals(Buffer.from(original[i]!.buffer))).toBe(true);
      expect(d.framePositions[0]?.[2]).toBeCloseTo(ct.positionsZ[i]!, 3);
      expect(d.instanceNumber).toBe(ct.instanceNumbers[i]);
    });
  });

  it('reads the geometry, rescale, window and identity attributes', () => {
    const d = decodeInstance(readFileSync(ct.variants['explicit-be'].files[0]!), codecs);
    expect(d).toMatchObject({
      rows: 512, columns: 512, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 1,
      photometricInterpretation: 'MONOCHROME2', modality: 'CT', rescaleSlope: 1, rescaleIntercept: -1024,
      imageOrientationPatient: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.7, 0.7], sliceThickness: 2.5,
      frameOfReferenceUid: ct.frameOfReferenceUid, window: { center: 40, width: 400 },
      seriesDescription: 'FIXTURE CHEST AXIAL', bodyPartExamined: 'CHEST', sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      studyInstanceUid: ct.variants['explicit-be'].studyInstanceUid,
      seriesInstanceUid: ct.variants['explicit-be'].seriesInstanceUid,
    });
    // Padding outside the scan circle is negative: signed values survive every path.
    expect((d.frames[0] as Int16Array).reduce((m, v) => Math.min(m, v), 0)).toBe(-2000);
  });
});
