import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/shared/basic-auth.ts';
import { stableHash } from '../../src/shared/stable-hash.ts';
import { DICOM_UID_SYSTEM, dicomUidValue, findDicomUid } from '../../src/shared/study-uid-identifier.ts';
import { hashStudyUid } from '../../src/shared/uids.ts';
import { hashImagingStudyId } from '../../src/queue/run-id.ts';
import { buildAuthHeader } from '../../src/dicom/dicomweb/auth-header.ts';
import { basicAuth } from '../../src/fhir/auth/basic-auth.ts';
import { getStudyInstanceUid } from '../../src/fhir/read-imaging-study.ts';
import { studyEventFromImagingStudy } from '../../src/triggers/fhir-notification/imaging-study-event.ts';
import { isAiSeriesDescription, aiSeriesDescription } from '../../src/dicom/writers/result-common.ts';

describe('facts kept in one place', () => {
  it('finds the Study Instance UID in urn:oid and bare form, skipping other systems and invalid UIDs', () => {
    expect(dicomUidValue('1.2.3')).toBe('urn:oid:1.2.3');
    const identifiers = [
      { system: 'urn:other', value: 'urn:oid:9.9.9' },
      { system: DICOM_UID_SYSTEM, value: 'urn:oid:01.2' },
      { system: DICOM_UID_SYSTEM, value: 'urn:oid:1.2.840.1' },
    ];
    expect(findDicomUid(identifiers)).toBe('1.2.840.1');
    expect(findDicomUid([{ system: DICOM_UID_SYSTEM, value: '1.2.5' }])).toBe('1.2.5');
    expect(findDicomUid('not a list')).toBeUndefined();
    expect(findDicomUid([null, 7])).toBeUndefined();
  });

  it('reads the UID the same way from a notification and from the FHIR server', () => {
    const study = { resourceType: 'ImagingStudy' as const, id: 'x1', status: 'available' as const, subject: {}, identifier: [{ system: DICOM_UID_SYSTEM, value: 'urn:oid:1.2.840.7' }] };
    expect(getStudyInstanceUid(study)).toBe('1.2.840.7');
    expect(studyEventFromImagingStudy(study as unknown as Record<string, unknown>).studyInstanceUid).toBe('1.2.840.7');
  });

  it('hashes study UIDs and ImagingStudy ids stably, as before (sha256 of namespace:value)', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(stableHash('ns', 'v', 10)).toBe(sha('ns:v').slice(0, 10));
    expect(hashStudyUid('1.2.3')).toBe(sha('study:1.2.3').slice(0, 24));
    expect(hashImagingStudyId('abc')).toBe(sha('fhir:ImagingStudy/abc').slice(0, 24));
    expect(hashStudyUid('1.2.3')).not.toBe(hashStudyUid('1.2.4'));
  });

  it('builds one Basic header for FHIR and DICOMweb (UTF-8 credentials)', async () => {
    const expected = `Basic ${Buffer.from('jürgen:p:w', 'utf8').toString('base64')}`;
    expect(basicAuthorization('jürgen', 'p:w')).toBe(expected);
    expect(await buildAuthHeader({ type: 'basic', username: 'jürgen', password: 'p:w' })).toBe(expected);
    expect(await basicAuth('jürgen', 'p:w').authorization()).toBe(expected);
  });

  it('recognizes our result series and other AI series by one marker', () => {
    expect(isAiSeriesDescription(aiSeriesDescription('Segmentation lung'))).toBe(true);
    expect(isAiSeriesDescription('AI-generated image (research use)')).toBe(true);
    expect(isAiSeriesDescription('AI chest protocol')).toBe(false);
    expect(isAiSeriesDescription('Axial CT 1mm')).toBe(false);
  });
});
