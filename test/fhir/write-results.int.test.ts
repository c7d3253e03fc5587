import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticReport, Observation, Provenance } from '@medplum/fhirtypes';
import { buildAiResultBundle } from '../../src/fhir/builders/build-result-bundle.ts';
import { createFhirClient, type FhirClient } from '../../src/fhir/fhir-client.ts';
import { markTaskCompleted, markTaskInProgress } from '../../src/fhir/task-status.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { writeAiResults } from '../../src/fhir/write-results.ts';
import { FhirResourceInvalidError, UpstreamHttpError } from '../../src/shared/errors.ts';
import { EXAMPLE_INPUT } from '../../fhir-profiles/build/examples.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';

const TYPES = ['Device', 'Media', 'Observation', 'DiagnosticReport', 'Provenance'] as const;

describe('writeAiResults against the Medplum engine', () => {
  let server: FhirTestServer;
  let client: FhirClient;
  const validator = createResourceValidator();
  beforeAll(async () => {
    server = await startFhirServer();
    client = createFhirClient({ baseUrl: server.baseUrl });
  });
  afterAll(async () => {
    await server.stop();
  });

  const count = async () => Object.fromEntries(await Promise.all(TYPES.map(async (t) => [t, (await client.search(t, { _count: '1000' })).length])));

  it('posted twice (and after a failed attempt) leaves exactly one of each resource, linked by real ids', async () => {
    const results = buildAiResultBundle(EXAMPLE_INPUT);
    server.failNext(503);
    await expect(writeAiResults({ client, validator }, results)).rejects.toBeInstanceOf(UpstreamHttpError);
    const first = await writeAiResults({ client, validator }, results);
    const second = await writeAiResults({ client, validator }, buildAiResultBundle(EXAMPLE_INPUT));
    expect(second).toEqual(first);
    expect(await count()).toEqual({ Device: 1, Media: 1, Observation: 2, DiagnosticReport: 1, Provenance: 1 });

    const report = (await client.read<DiagnosticReport>('DiagnosticReport', first.diagnosticReportId))!;
    const observations = await client.search<Observation>('Observation', {});
    expect(report.result?.map((r) => r.reference).sort()).toEqual(observations.map((o) => `Observation/${o.id}`).sort());
    const [device] = await client.search('Device', {});
    expect(observations.every((o) => o.device?.reference === `Device/${device!.id}`)).toBe(true);
    const [provenance] = await client.search<Provenance>('Provenance', {});
    expect(provenance!.target.map((t) => t.reference)).toContain(`DiagnosticReport/${report.id}`);
    expect(provenance!.agent[0]!.who.reference).toBe(`Device/${device!.id}`);
    // Searchable where clinicians look: by study and by subject.
    expect(await client.search('DiagnosticReport', { subject: 'Patient/example', status: 'preliminary' })).toHaveLength(1);

    // The study changed and was analyzed again under the same job key: the draft is replaced in place.
    const rerun = await writeAiResults({ client, validator }, buildAiResultBundle({ ...EXAMPLE_INPUT, reportText: 'Updated draft after a new series.' }));
    expect(rerun.diagnosticReportId).toBe(first.diagnosticReportId);
    expect((await client.read<DiagnosticReport>('DiagnosticReport', first.diagnosticReportId))!.conclusion).toBe('Updated draft after a new series.');
    expect(await count()).toEqual({ Device: 1, Media: 1, Observation: 2, DiagnosticReport: 1, Provenance: 1 });

    // A second job with the same model reuses the Device.
    await writeAiResults({ client, validator }, buildAiResultBundle({ ...EXAMPLE_INPUT, jobKey: '0e6d1d8c-4b1a-5f9e-8c3d-2a1b0c9d8e7f' }));
    expect(await count()).toEqual({ Device: 1, Media: 2, Observation: 4, DiagnosticReport: 2, Provenance: 2 });

    const task = await markTaskInProgress(client, { jobKey: EXAMPLE_INPUT.jobKey, imagingStudyId: 'example-study' });
    const done = await markTaskCompleted(client, { jobKey: EXAMPLE_INPUT.jobKey, imagingStudyId: 'example-study' }, { diagnosticReportId: first.diagnosticReportId });
    expect(done.id).toBe(task.id);
    expect(validator.check(done)).toEqual([]);
  });

  it('sends nothing when a resource is invalid', async () => {
    const results = buildAiResultBundle({ ...EXAMPLE_INPUT, jobKey: '7a7a7a7a-7a7a-5a7a-8a7a-7a7a7a7a7a7a' });
    (results.resources.report as { status: string }).status = 'final';
    const before = server.requests.length;
    await expect(writeAiResults({ client, validator }, results)).rejects.toBeInstanceOf(FhirResourceInvalidError);
    expect(server.requests.length).toBe(before);
  });
});

describe('writeAiResults against a server that runs transactions as batches (Medplum without transaction-bundles)', () => {
  let server: FhirTestServer;
  let client: FhirClient;
  const validator = createResourceValidator();
  beforeAll(async () => {
    server = await startFhirServer({ transactions: false });
    client = createFhirClient({ baseUrl: server.baseUrl });
  });
  afterAll(async () => {
    await server.stop();
  });

  const count = async () => Object.fromEntries(await Promise.all(TYPES.map(async (t) => [t, (await client.search(t, { _count: '1000' })).length])));

  it('one failing entry leaves no partial result: what was created is deleted and the attempt fails with that status', async () => {
    const findingKey = EXAMPLE_INPUT.findings![0]!.key;
    server.rejectWrites((resource) => resource.resourceType === 'Observation' && JSON.stringify(resource.identifier).includes(`:observation:${findingKey}`));
    const error = await writeAiResults({ client, validator }, buildAiResultBundle(EXAMPLE_INPUT)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect((error as UpstreamHttpError).status).toBe(400);
    expect((error as UpstreamHttpError).retryable).toBe(false);
    // The batch really ran entry by entry: the POST itself succeeded, with one failed entry ...
    expect(server.requests.find((r) => r.method === 'POST' && r.url === '')?.status).toBe(200);
    // ... yet nothing of the job remains but the shared model Device.
    expect(await count()).toEqual({ Device: 1, Media: 0, Observation: 0, DiagnosticReport: 0, Provenance: 0 });
    expect(server.requests.filter((r) => r.method === 'DELETE').map((r) => r.url.split('/')[0]).sort()).toEqual(['DiagnosticReport', 'Media', 'Observation', 'Provenance']);

    server.restore();
    const written = await writeAiResults({ client, validator }, buildAiResultBundle(EXAMPLE_INPUT));
    expect(await count()).toEqual({ Device: 1, Media: 1, Observation: 2, DiagnosticReport: 1, Provenance: 1 });
    const report = (await client.read<DiagnosticReport>('DiagnosticReport', written.diagnosticReportId))!;
    expect(report.result).toHaveLength(2);
  });

  it('a rerun whose batch fails half way gives the updated resources their previous version back', async () => {
    const validator2 = createResourceValidator();
    const before = (await client.search<DiagnosticReport>('DiagnosticReport', {}))[0]!;
    const observationsBefore = Object.fromEntries((await client.search<Observation>('Observation', {})).map((o) => [o.id, o.valueQuantity?.value ?? o.valueCodeableConcept?.coding?.[0]?.code]));
    const findingKey = EXAMPLE_INPUT.findings![0]!.key;
    server.rejectWrites((resource) => resource.resourceType === 'Observation' && JSON.stringify(resource.identifier).includes(`:observation:${findingKey}`));
    const rerun = { ...EXAMPLE_INPUT, reportText: 'A newer draft that must not stay half written.', measurements: [{ ...EXAMPLE_INPUT.measurements![0]!, value: 1 }] };
    await expect(writeAiResults({ client, validator: validator2 }, buildAiResultBundle(rerun))).rejects.toBeInstanceOf(UpstreamHttpError);
    server.restore();
    expect(await count()).toEqual({ Device: 1, Media: 1, Observation: 2, DiagnosticReport: 1, Provenance: 1 });
    const after = (await client.read<DiagnosticReport>('DiagnosticReport', before.id!))!;
    expect(after.conclusion).toBe(before.conclusion);
    const observationsAfter = Object.fromEntries((await client.search<Observation>('Observation', {})).map((o) => [o.id, o.valueQuantity?.value ?? o.valueCodeableConcept?.coding?.[0]?.code]));
    expect(observationsAfter).toEqual(observationsBefore);
  });
});
