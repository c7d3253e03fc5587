import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';

const FHIR_JSON = 'application/fhir+json';

async function call(server: FhirTestServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(new URL(path, server.baseUrl), {
    method,
    headers: { accept: FHIR_JSON, ...(body ? { 'content-type': FHIR_JSON } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, contentType: response.headers.get('content-type'), location: response.headers.get('location'), body: (await response.json()) as Resource };
}

describe('FHIR test server (Medplum engine behind express)', () => {
  let server: FhirTestServer;
  beforeAll(async () => {
    server = await startFhirServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  const patient: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'mrn-1' }] };

  it('creates, reads and searches by identifier with application/fhir+json', async () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir\/R4\/$/);
    const created = await call(server, 'POST', 'Patient', patient);
    expect(created.status).toBe(201);
    expect(created.contentType).toContain(FHIR_JSON);
    expect(created.location).toContain('/fhir/R4/Patient/');
    const id = created.body.id!;
    const read = await call(server, 'GET', `Patient/${id}`);
    expect(read.status).toBe(200);
    expect((read.body as Patient).identifier?.[0]?.value).toBe('mrn-1');
    const search = await call(server, 'GET', 'Patient?identifier=urn:test:mrn|mrn-1');
    expect((search.body as Bundle).entry?.map((e) => e.resource?.id)).toEqual([id]);
    const none = await call(server, 'GET', 'Patient?identifier=urn:test:mrn|other');
    expect((none.body as Bundle).entry ?? []).toHaveLength(0);
    expect((await call(server, 'GET', 'Patient/does-not-exist')).status).toBe(404);
  });

  it('conditional create twice leaves one resource', async () => {
    const body: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'cc-1' }] };
    const first = await call(server, 'POST', 'Patient', body, { 'If-None-Exist': 'identifier=urn:test:mrn|cc-1' });
    const second = await call(server, 'POST', 'Patient', body, { 'If-None-Exist': 'identifier=urn:test:mrn|cc-1' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const all = await server.repo.searchResources(parseSearchRequest('Patient?identifier=urn:test:mrn|cc-1'));
    expect(all).toHaveLength(1);
  });

  it('conditional update (PUT ?identifier=) creates then updates the same resource', async () => {
    const url = 'Patient?identifier=urn:test:mrn|cu-1';
    const first = await call(server, 'PUT', url, { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'cu-1' }], active: false });
    const second = await call(server, 'PUT', url, { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'cu-1' }], active: true });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect((second.body as Patient).active).toBe(true);
  });

  it('runs a transaction with urn:uuid references and ifNoneExist, idempotently', async () => {
    const transaction: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6b0f36a8-7c55-4b8c-9f0a-1b2c3d4e5f60',
          resource: { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'tx-1' }] },
          request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:test:mrn|tx-1' },
        },
        {
          fullUrl: 'urn:uuid:0d9b7e2a-1111-4222-8333-944455556666',
          resource: {
            resourceType: 'Observation',
            status: 'preliminary',
            code: { text: 'test' },
            identifier: [{ system: 'urn:test:obs', value: 'tx-obs-1' }],
            subject: { reference: 'urn:uuid:6b0f36a8-7c55-4b8c-9f0a-1b2c3d4e5f60' },
          },
          request: { method: 'POST', url: 'Observation', ifNoneExist: 'identifier=urn:test:obs|tx-obs-1' },
        },
      ],
    };
    const first = await call(server, 'POST', '', transaction);
    expect(first.status).toBe(200);
    const response = first.body as Bundle;
    expect(response.type).toBe('transaction-response');
    expect(response.entry?.map((e) => e.response?.status)).toEqual(['201', '201']);
    const patientRef = response.entry?.[0]?.response?.location;
    const observation = response.entry?.[1]?.resource as { subject?: { reference?: string } };
    expect(observation.subject?.reference).toBe(patientRef);

    const second = await call(server, 'POST', '', transaction);
    expect((second.body as Bundle).entry?.map((e) => e.response?.status)).toEqual(['200', '200']);
    const observations = await call(server, 'GET', 'Observation?identifier=urn:test:obs|tx-obs-1');
    expect((observations.body as Bundle).entry).toHaveLength(1);
    const patients = await call(server, 'GET', 'Patient?identifier=urn:test:mrn|tx-1');
    expect((patients.body as Bundle).entry).toHaveLength(1);
  });

  it('an invalid transaction answers an error OperationOutcome', async () => {
    const bad: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'NotAType' }, resource: { resourceType: 'Patient' } }] };
    const result = await call(server, 'POST', '', bad);
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.body.resourceType).toBe('OperationOutcome');
  });

  it('failNext(503, n) answers 503 to the next n requests only', async () => {
    server.failNext(503, 2);
    expect((await call(server, 'GET', 'Patient')).status).toBe(503);
    expect((await call(server, 'GET', 'Patient')).status).toBe(503);
    expect((await call(server, 'GET', 'Patient')).status).toBe(200);
  });
});
