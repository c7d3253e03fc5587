import { describe, expect, it } from 'vitest';
import { TAG, Tag } from '../../src/dicom/tags.ts';
import { lookupKeyword } from '../../src/dicom/writers/dcmjs-io.ts';

describe('the tag vocabulary', () => {
  it("names every tag by its keyword in dcmjs's DICOM dictionary", () => {
    for (const [keyword, hex] of Object.entries(Tag)) expect([keyword, lookupKeyword(keyword)?.tag]).toEqual([keyword, hex]);
  });

  it('gives the same tags as numbers for the Part 10 reader', () => {
    expect(TAG.PixelData).toBe(0x7fe00010);
    expect(TAG.SeriesDescription).toBe(0x0008103e);
    expect(Object.keys(TAG)).toEqual(Object.keys(Tag));
  });
});
