// The FHIR client talks to FHIR_URL and nowhere else (issue 11): references and `next` links that
// resolve to another server are refused without a request, and a redirect is never followed, so the
// bearer token never reaches the recording stranger.
import type { Endpoint, ImagingStudy } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth } from '../../src/fhir/auth/bearer-auth.ts';
import { createFhirClient } from '../../src/fhir/fhir-client.ts';
import { readImagingStudy } from '../../src/fhir/read-imaging-study.ts';
import { FhirReferenceNotAllowedError, UpstreamRedirectRefusedError } from '../../src/shared/errors.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { startRecordingDicomwebServer, type RecordingServer } from '../support/recording-dicomweb-server.ts';

const TOKEN = 'fhir-service-token-1234';
const WADO = { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' };
const FHIR_JSON = { 'content-type': 'application/fhir+json' };

describe('FHIR client: one FHIR base', () => {
  let fhir: FhirTestServer;
  let stranger: RecordingServer;

  beforeAll(async () => {
    fhir = await startFhirServer({ authorize: (header) => header === `Bearer ${TOKEN}` });
    stranger = await startRecordingDicomwebServer({ basePath: '/fhir/R4', answer: () => ({ status: 200, headers: FHIR_JSON, body: '{"resourceType":"Endpoint","id":"1"}' }) });
  });
  afterAll(async () => {
    await Promise.all([fhir?.stop(), stranger?.stop()]);
  });

  it('refuses references to another server, by origin, userinfo or path: FHIR_REFERENCE_NOT_ALLOWED, no request', async () => {
    const client = createFhirClient({ baseUrl: fhir.baseUrl, auth: bearerAuth(TOKEN) });
    const fhirHost = new URL(fhir.baseUrl).host;
    const elsewhere = [
      `${stranger.baseUrl}/Endpoint/1`,
      `http://${fhirHost}@${stranger.host}/fhir/R4/Endpoint/1`,
      `${fhir.origin}other/fhir/R4/Endpoint/1`,
      `${fhir.baseUrl}../../Endpoint/1`,
      `https://${fhirHost}/fhir/R4/Endpoint/1`,
    ];
    for (const reference of elsewhere) {
      await expect(client.readReference(reference), reference).rejects.toBeInstanceOf(FhirReferenceNotAllowedError);
    }
    expect(stranger.requests).toEqual([]);
    // Its own references still work, relative or absolute.
    const endpoint = await fhir.repo.createResource<Endpoint>({ resourceType: 'Endpoint', status: 'active', connectionType: WADO, payloadType: [{ text: 'DICOM' }], address: 'http://pacs/dicom-web' });
    expect((await client.readReference<Endpoint>(`Endpoint/${endpoint.id}`))?.id).toBe(endpoint.id);
    expect((await client.readReference<Endpoint>(`${fhir.baseUrl}Endpoint/${endpoint.id}`))?.id).toBe(endpoint.id);
  });

  it('does not follow an ImagingStudy\'s Endpoint references to another FHIR server', async () => {
    const client = createFhirClient({ baseUrl: fhir.baseUrl, auth: bearerAuth(TOKEN) });
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.826.0.1.3680043.8.498.4242' }],
      endpoint: [
        { reference: `${stranger.baseUrl}/Endpoint/1` },
        { reference: `http://${new URL(fhir.baseUrl).host}@${stranger.host}/fhir/R4/Endpoint/1` },
      ],
    });
    const located = await readImagingStudy(client, study.id!);
    expect(located.dicomwebBaseUrl).toBeUndefined();
    expect(stranger.requests).toEqual([]);
  });

  it('refuses a search `next` link that points to another server, before any request to it', async () => {
    const nextToStranger = await startRecordingDicomwebServer({
      basePath: '/fhir/R4',
      answer: () => ({
        status: 200, headers: FHIR_JSON,
        body: JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [], link: [{ relation: 'next', url: `${stranger.baseUrl}/Patient?page=2` }] }),
      }),
    });
    try {
      const client = createFhirClient({ baseUrl: `${nextToStranger.baseUrl}/`, auth: bearerAuth(TOKEN) });
      await expect(client.search('Patient', {})).rejects.toBeInstanceOf(FhirReferenceNotAllowedError);
      expect(nextToStranger.requests).toHaveLength(1);
      expect(stranger.requests).toEqual([]);
    } finally {
      await nextToStranger.stop();
    }
  });

  it('never follows a redirect, whatever its target: UPSTREAM_REDIRECT_REFUSED, not retried, the token stays home', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const redirecting = await startRecordingDicomwebServer({
        basePath: '/fhir/R4',
        answer: (request) => ({ status, headers: { location: `${stranger.origin}${request.url}` } }),
      });
      try {
        const client = createFhirClient({ baseUrl: `${redirecting.baseUrl}/`, auth: bearerAuth(TOKEN) });
        const error = await client.read('Patient', '1').catch((e: unknown) => e);
        expect(error, String(status)).toBeInstanceOf(UpstreamRedirectRefusedError);
        expect(error).toMatchObject({ code: 'UPSTREAM_REDIRECT_REFUSED', retryable: false, status, dependency: 'fhir' });
        await expect(client.createIfNoneExist({ resourceType: 'Patient' }, 'identifier=x|1')).rejects.toBeInstanceOf(UpstreamRedirectRefusedError);
        expect(redirecting.requests).toHaveLength(2);
      } finally {
        await redirecting.stop();
      }
    }
    expect(stranger.requests).toEqual([]);
  });
});
