import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '@medplum/fhirtypes';
import { createFhirClient, type FhirClient } from '../../src/fhir/fhir-client.ts';
import {
  findTask, markTaskCompleted, markTaskFailed, markTaskInProgress, markTaskOnHold, markTaskRejected, type TaskContext,
} from '../../src/fhir/task-status.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { hasAiLabel } from '../../src/fhir/ai-label.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';

describe('job Task status', () => {
  let server: FhirTestServer;
  let client: FhirClient;
  beforeAll(async () => {
    server = await startFhirServer();
    client = createFhirClient({ baseUrl: server.baseUrl });
  });
  afterAll(async () => {
    await server.stop();
  });

  const context = (jobKey: string): TaskContext => ({ jobKey, imagingStudyId: 'study-1', patientReference: 'Patient/p1' });
  const tasks = async () => (await client.search<Task>('Task', { _count: '1000' }));

  it('creates one in-progress Task and completes it with the report as output', async () => {
    const started = await markTaskInProgress(client, context('job-a'));
    expect(started).toMatchObject({
      status: 'in-progress', intent: 'order',
      identifier: [{ system: 'urn:unimedvl-plugin:job', value: 'job-a' }],
      focus: { reference: 'ImagingStudy/study-1' }, for: { reference: 'Patient/p1' },
    });
    expect(hasAiLabel(started)).toBe(true);
    const done = await markTaskCompleted(client, context('job-a'), { diagnosticReportId: 'dr-1' });
    expect(done.id).toBe(started.id);
    expect(done.status).toBe('completed');
    expect(done.output?.[0]?.valueReference?.reference).toBe('DiagnosticReport/dr-1');
    expect(done.authoredOn).toBe(started.authoredOn);
    expect(done.executionPeriod?.end).toBeDefined();
    expect((await findTask(client, 'job-a'))?.status).toBe('completed');
  });

  it('marks failure with the error code only', async () => {
    await markTaskInProgress(client, context('job-b'));
    const failed = await markTaskFailed(client, context('job-b'), { errorCode: 'STUDY_NOT_FOUND' });
    expect(failed.status).toBe('failed');
    expect(failed.statusReason?.text).toBe('STUDY_NOT_FOUND');
    expect(failed.businessStatus?.coding?.[0]?.code).toBe('STUDY_NOT_FOUND');
    // Anything that is not a bare code (it could carry data) is replaced.
    const odd = await markTaskFailed(client, context('job-b'), { errorCode: 'Patient Doe not found' });
    expect(odd.statusReason?.text).toBe('INTERNAL');
    expect(JSON.stringify(odd)).not.toContain('Doe');
  });

  it('says what a retrying run waits for, holds at the end of the window, and never calls waiting a failure', async () => {
    const validator = createResourceValidator();
    const waiting = await markTaskInProgress(client, context('job-e'), { waitingFor: 'pacs' });
    expect(waiting.status).toBe('in-progress');
    expect(waiting.businessStatus).toEqual({ coding: [{ system: 'urn:unimedvl-plugin:business-status', code: 'waiting-for-pacs' }], text: 'Waiting for PACS: retrying' });
    const fhirWait = await markTaskInProgress(client, context('job-e'), { waitingFor: 'fhir' });
    expect(fhirWait.businessStatus?.coding?.[0]?.code).toBe('waiting-for-fhir');
    const held = await markTaskOnHold(client, context('job-e'), { errorCode: 'UPSTREAM_HTTP_ERROR' });
    expect(held.status).toBe('on-hold');
    expect(held.statusReason?.coding?.[0]?.code).toBe('UPSTREAM_HTTP_ERROR');
    expect(held.executionPeriod?.end).toBeUndefined();
    const resumed = await markTaskInProgress(client, context('job-e'));
    expect(resumed).toMatchObject({ status: 'in-progress', businessStatus: { text: 'Analyzing' } });
    expect(resumed.statusReason).toBeUndefined();
    for (const task of [waiting, fhirWait, held, resumed]) expect(() => validator.assertValid(task)).not.toThrow();
  });

  it('rejects a study with nothing to analyze with the reason, and completes one without a profile naming the modalities', async () => {
    const rejected = await markTaskRejected(client, context('job-f'), { reasonCode: 'NO_IMAGE_SERIES', reasonText: 'The study has no image series to analyze (series modalities: SR)' });
    expect(rejected.status).toBe('rejected');
    expect(rejected.statusReason).toEqual({
      coding: [{ system: 'urn:unimedvl-plugin:error-code', code: 'NO_IMAGE_SERIES' }], text: 'The study has no image series to analyze (series modalities: SR)',
    });
    const done = await markTaskCompleted(client, context('job-g'), { noProfileModalities: ['NM', 'US'] });
    expect(done.status).toBe('completed');
    expect(done.businessStatus?.text).toBe('No task profile for modalities: NM, US');
    const same = await markTaskCompleted(client, context('job-g'), { noProfileModalities: ['NM', 'US'] });
    expect(same.meta?.versionId).toBe(done.meta?.versionId);
  });

  it('20 concurrent calls for one job make exactly one Task', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => markTaskInProgress(client, context('job-c'))));
    expect(new Set(results.map((t) => t.id)).size).toBe(1);
    const matching = (await tasks()).filter((t) => t.identifier?.[0]?.value === 'job-c');
    expect(matching).toHaveLength(1);
  });

  it('a retry after a 503 still leaves one Task', async () => {
    server.failNext(503);
    await expect(markTaskInProgress(client, context('job-d'))).rejects.toMatchObject({ retryable: true });
    await markTaskInProgress(client, context('job-d'));
    await markTaskInProgress(client, context('job-d'));
    expect((await tasks()).filter((t) => t.identifier?.[0]?.value === 'job-d')).toHaveLength(1);
  });
});
