import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPart10Meta } from '../../../src/dicom/dicomweb/part10-meta.ts';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';

describe('readPart10Meta', () => {
  it('reads the SOP class, SOP instance and transfer syntax UIDs of a real file', () => {
    const meta = readPart10Meta(readFileSync(`${SAMPLES}/CT_small.dcm`));
    expect(meta).toEqual({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      sopInstanceUid: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
    });
  });

  it('reads a compressed file\'s transfer syntax', () => {
    expect(readPart10Meta(readFileSync(`${SAMPLES}/MR_small_RLE.dcm`))?.transferSyntaxUid).toBe('1.2.840.10008.1.2.5');
  });

  it('returns undefined for bytes without the DICM prefix', () => {
    expect(readPart10Meta(readFileSync(`${SAMPLES}/no_meta.dcm`))).toBeUndefined();
    expect(readPart10Meta(new Uint8Array(10))).toBeUndefined();
  });
});

describe('readPart10Meta on a cut file', () => {
  it('never throws: a cut header gives nothing, a whole header all three UIDs', () => {
    const whole = readFileSync(`${SAMPLES}/CT_small.dcm`);
    for (const length of [140, 180, 250]) expect(readPart10Meta(whole.subarray(0, length))).toBeUndefined();
    expect(Object.keys(readPart10Meta(whole.subarray(0, 400))!)).toEqual(['sopClassUid', 'sopInstanceUid', 'transferSyntaxUid']);
  });
});
