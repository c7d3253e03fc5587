import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { createFhirClient, isNotFoundError } from '../../src/fhir/fhir-client.ts';
import { DependencyUnavailableError, UpstreamHttpError } from '../../src/shared/errors.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';

describe('createFhirClient against the Medplum engine', () => {
  let server: FhirTestServer;
  beforeAll(async () => {
    server = await startFhirServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('creates conditionally, reads, searches, updates by id and conditionally', async () => {
    const client = createFhirClient({ baseUrl: server.baseUrl });
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'c-1' }] };
    const created = await client.createIfNoneExist(patient, 'identifier=urn:test:mrn|c-1');
    const again = await client.createIfNoneExist(patient, 'identifier=urn:test:mrn|c-1');
    expect(again.id).toBe(created.id);
    expect((await client.read<Patient>('Patient', created.id))?.id).toBe(created.id);
    expect((await client.search<Patient>('Patient', { identifier: 'urn:test:mrn|c-1' })).map((p) => p.id)).toEqual([created.id]);
    const updated = await client.update<Patient>({ ...created, active: true });
    expect(updated.active).toBe(true);
    const upserted = await client.conditionalUpdate<Patient>({ ...patient, active: false }, { identifier: 'urn:test:mrn|c-1' });
    expect(upserted.id).toBe(created.id);
    expect(upserted.active).toBe(false);
    // No read cache: the update is visible at once.
    expect((await client.read<Patient>('Patient', created.id))?.active).toBe(false);
  });

  it('answers undefined for a missing resource and for 410', async () => {
    const client = createFhirClient({ baseUrl: server.baseUrl.replace(/\/$/, '') });
    expect(await client.read('Patient', 'missing')).toBeUndefined();
    server.failNext(410);
    expect(await client.read('Patient', 'anything')).toBeUndefined();
  });

  it('does not retry a create on 503 and maps it to a retryable UpstreamHttpError', async () => {
    const client = createFhirClient({ baseUrl: server.baseUrl });
    const before = server.requests.length;
    server.failNext(503, 3);
    const error = await client.createIfNoneExist({ resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'r-1' }] }, 'identifier=urn:test:mrn|r-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect((error as UpstreamHttpError).status).toBe(503);
    expect((error as UpstreamHttpError).retryable).toBe(true);
    expect(server.requests.length - before).toBe(1);
    server.failNext(0, 0);
    expect(await client.search('Patient', { identifier: 'urn:test:mrn|r-1' })).toHaveLength(0);
  });

  it('maps 429 to retryable, 400 to non-retryable, 404 to a not-found error for non-reads', async () => {
    const client = createFhirClient({ baseUrl: server.baseUrl });
    server.failNext(429);
    const throttled = await client.search('Patient', {}).catch((e: unknown) => e);
    expect((throttled as UpstreamHttpError).retryable).toBe(true);
    server.failNext(400);
    const bad = await client.update({ resourceType: 'Patient', id: 'x' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(UpstreamHttpError);
    expect((bad as UpstreamHttpError).retryable).toBe(false);
    server.failNext(404);
    const missing = await client.search('Patient', {}).catch((e: unknown) => e);
    expect(isNotFoundError(missing)).toBe(true);
  });

  it('maps a refused connection to DependencyUnavailableError(fhir)', async () => {
    const probe = await startFhirServer();
    const baseUrl = probe.baseUrl;
    await probe.stop();
    const client = createFhirClient({ baseUrl });
    const error = await client.read('Patient', '1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).dependency).toBe('fhir');
    expect((error as DependencyUnavailableError).retryable).toBe(true);
  });
});
