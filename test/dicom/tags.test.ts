import { describe, expect, it } from 'vitest';
import { TAG, Tag } from '../../src/dicom/tags.ts';
import { SOP_CLASS, resultKindOf } from '../../src/dicom/sop-classes.ts';
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

describe('the SOP class table', () => {
  it('tells result kinds apart by SOP class', () => {
    expect(resultKindOf(SOP_CLASS.SegmentationStorage)).toBe('SEG');
    expect(resultKindOf(SOP_CLASS.EnhancedSRStorage)).toBe('SR');
    expect(resultKindOf(SOP_CLASS.ComprehensiveSRStorage)).toBe('SR');
    expect(resultKindOf(SOP_CLASS.MultiFrameTrueColorSecondaryCaptureImageStorage)).toBe('SC');
    expect(new Set(Object.values(SOP_CLASS)).size).toBe(Object.keys(SOP_CLASS).length);
  });
});
