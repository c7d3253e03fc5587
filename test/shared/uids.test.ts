import { describe, expect, it } from 'vitest';
import { deriveDicomUid, deriveJobKey, isDicomUid, uuidV5 } from '../../src/shared/uids.ts';

describe('uids', () => {
  it('computes RFC 4122 version-5 UUIDs', () => {
    // Reference value: Python's uuid.uuid5(uuid.NAMESPACE_URL, 'http://example.org/')
    expect(uuidV5('http://example.org/')).toBe('715d503b-5f95-5532-9100-00663eb45ade');
  });

  it('derives stable, valid, role-specific DICOM UIDs', () => {
    const key = deriveJobKey('1.2.3.4', 'report', '1.0.0');
    const seg = deriveDicomUid(key, 'seg-series');
    expect(isDicomUid(seg)).toBe(true);
    expect(seg.startsWith('2.25.')).toBe(true);
    expect(deriveDicomUid(key, 'seg-series')).toBe(seg);
    expect(deriveDicomUid(key, 'sc-series')).not.toBe(seg);
    expect(deriveDicomUid(deriveJobKey('1.2.3.4', 'report', '1.0.1'), 'seg-series')).not.toBe(seg);
  });
});
