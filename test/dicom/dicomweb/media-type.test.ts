import { describe, expect, it } from 'vitest';
import { parseMediaType } from '../../../src/dicom/dicomweb/media-type.ts';

describe('parseMediaType', () => {
  it('reads quoted and unquoted parameters, case-insensitively by name', () => {
    const parsed = parseMediaType('Multipart/Related; TYPE="application/dicom"; boundary=abc-123 ; transfer-syntax=1.2.840.10008.1.2.4.50');
    expect(parsed).toEqual({
      essence: 'multipart/related',
      params: { type: 'application/dicom', boundary: 'abc-123', 'transfer-syntax': '1.2.840.10008.1.2.4.50' },
    });
  });

  it('keeps semicolons and escaped quotes inside quoted values', () => {
    const parsed = parseMediaType('multipart/related; boundary="a;b \\"c\\""; type="application/dicom"');
    expect(parsed.params).toEqual({ boundary: 'a;b "c"', type: 'application/dicom' });
  });

  it('handles a bare type', () => {
    expect(parseMediaType('application/dicom')).toEqual({ essence: 'application/dicom', params: {} });
  });
});

describe('parseMediaType on what PACSs send', () => {
  it('reads unquoted type values with a slash, no spaces, and keeps the first of a repeated parameter', () => {
    expect(parseMediaType('multipart/related;type=application/dicom;boundary=a')).toEqual({
      essence: 'multipart/related', params: { type: 'application/dicom', boundary: 'a' },
    });
    expect(parseMediaType('multipart/related; boundary=first; boundary=second').params.boundary).toBe('first');
    expect(parseMediaType('application/dicom; transfer-syntax=*').params['transfer-syntax']).toBe('*');
  });
});
