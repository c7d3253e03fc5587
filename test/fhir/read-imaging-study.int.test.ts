import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint, ImagingStudy } from '@medplum/fhirtypes';
import { createFhirClient, type FhirClient } from '../../src/fhir/fhir-client.ts';
import {
  findImagingStudyByUid,
  readImagingStudy,
  searchImagingStudiesUpdatedSince,
  toDicomwebBase,
} from '../../src/fhir/read-imaging-study.ts';
import { ImagingStudyInvalidError, ImagingStudyNotFoundError } from '../../src/shared/errors.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';

const WADO = { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' };
const STUDY_UID = '1.2.826.0.1.3680043.8.498.1001';
const SERIES_UID = '1.2.826.0.1.3680043.8.498.1002';

function study(overrides: Partial<ImagingStudy> = {}): ImagingStudy {
  return {
    resourceType: 'ImagingStudy',
    status: 'available',
    identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${STUDY_UID}` }],
    subject: { reference: 'Patient/p1' },
    ...overrides,
  };
}

describe('readImagingStudy', () => {
  let server: FhirTestServer;
  let client: FhirClient;
  beforeAll(async () => {
    server = await startFhirServer();
    client = createFhirClient({ baseUrl: server.baseUrl });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('reads the UID, a referenced WADO-RS Endpoint (stripping /studies/<uid>), series overrides and the patient', async () => {
    const endpoint = await server.repo.createResource<Endpoint>({
      resourceType: 'Endpoint', status: 'active', connectionType: WADO, payloadType: [{ text: 'DICOM' }],
      address: `http://pacs.example/dicom-web/studies/${STUDY_UID}/`,
    });
    const qido = await server.repo.createResource<Endpoint>({
      resourceType: 'Endpoint', status: 'active', payloadType: [{ text: 'DICOM' }],
      connectionType: { ...WADO, code: 'dicom-qido-rs' }, address: 'http://other.example/qido',
    });
    const created = await server.repo.createResource(study({
      endpoint: [{ reference: `Endpoint/${qido.id}` }, { reference: `Endpoint/${endpoint.id}` }],
      contained: [{ resourceType: 'Endpoint', id: 'series-ep', status: 'active', connectionType: WADO, payloadType: [{ text: 'DICOM' }], address: 'http://archive.example/wado/' }],
      series: [{ uid: SERIES_UID, modality: { code: 'CT' }, endpoint: [{ reference: '#series-ep' }] }],
    }));
    const located = await readImagingStudy(client, created.id);
    expect(located.studyInstanceUid).toBe(STUDY_UID);
    expect(located.dicomwebBaseUrl).toBe('http://pacs.example/dicom-web');
    expect(located.seriesDicomwebBaseUrls).toEqual({ [SERIES_UID]: 'http://archive.example/wado' });
    expect(located.patientReference).toBe('Patient/p1');
    expect(located.imagingStudy.id).toBe(created.id);
  });

  it('reads a contained Endpoint and accepts a bare UID value', async () => {
    const created = await server.repo.createResource(study({
      identifier: [{ system: 'urn:dicom:uid', value: STUDY_UID }],
      contained: [{ resourceType: 'Endpoint', id: 'ep', status: 'active', connectionType: WADO, payloadType: [{ text: 'DICOM' }], address: 'http://pacs.example/wado-rs' }],
      endpoint: [{ reference: '#ep' }],
      subject: undefined,
    }));
    const located = await readImagingStudy(client, created.id);
    expect(located.studyInstanceUid).toBe(STUDY_UID);
    expect(located.dicomwebBaseUrl).toBe('http://pacs.example/wado-rs');
    expect(located.patientReference).toBeUndefined();
  });

  it('has no DICOMweb base when no usable endpoint exists (missing, off, foreign server)', async () => {
    const off = await server.repo.createResource<Endpoint>({ resourceType: 'Endpoint', status: 'off', connectionType: WADO, payloadType: [{ text: 'DICOM' }], address: 'http://x/wado' });
    const created = await server.repo.createResource(study({
      endpoint: [{ reference: 'Endpoint/missing' }, { reference: `Endpoint/${off.id}` }, { reference: 'http://elsewhere.example/fhir/Endpoint/1' }],
    }));
    const located = await readImagingStudy(client, created.id);
    expect(located.dicomwebBaseUrl).toBeUndefined();
  });

  it('throws ImagingStudyNotFoundError on 404 and 410, ImagingStudyInvalidError without a UID', async () => {
    await expect(readImagingStudy(client, 'nope')).rejects.toBeInstanceOf(ImagingStudyNotFoundError);
    server.failNext(410);
    await expect(readImagingStudy(client, 'gone')).rejects.toBeInstanceOf(ImagingStudyNotFoundError);
    const noUid = await server.repo.createResource(study({ identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:not-a-uid' }, { system: 'urn:acc', value: '123' }] }));
    await expect(readImagingStudy(client, noUid.id)).rejects.toBeInstanceOf(ImagingStudyInvalidError);
  });

  it('finds a study by UID and lists studies updated since an instant', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.2001';
    const before = new Date(Date.now() - 1000).toISOString();
    const created = await server.repo.createResource(study({ identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${uid}` }] }));
    expect((await findImagingStudyByUid(client, uid))?.id).toBe(created.id);
    expect(await findImagingStudyByUid(client, '1.2.3.4.5')).toBeUndefined();
    const bare = await server.repo.createResource(study({ identifier: [{ system: 'urn:dicom:uid', value: '1.2.826.0.1.3680043.8.498.2002' }] }));
    expect((await findImagingStudyByUid(client, '1.2.826.0.1.3680043.8.498.2002'))?.id).toBe(bare.id);

    const recent = await searchImagingStudiesUpdatedSince(client, before);
    expect(recent.map((s) => s.id)).toEqual(expect.arrayContaining([created.id, bare.id]));
    const future = await searchImagingStudiesUpdatedSince(client, new Date(Date.now() + 60_000).toISOString());
    expect(future).toHaveLength(0);
  });

  it('normalizes endpoint addresses', () => {
    expect(toDicomwebBase('http://h/dicomweb/')).toBe('http://h/dicomweb');
    expect(toDicomwebBase('http://h/dicomweb/studies/1.2.3')).toBe('http://h/dicomweb');
    expect(toDicomwebBase('http://h/dicomweb/studies/1.2.3/')).toBe('http://h/dicomweb');
  });
});
