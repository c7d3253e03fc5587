import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentReference, ImagingStudy, Observation, Provenance, Resource, Task } from '@medplum/fhirtypes';
import { decodeInstance, loadCodecs } from '../../src/dicom/pixels/index.ts';
import { assembleVolume } from '../../src/dicom/volume/assemble-volume.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { DEFAULT_MODEL_DIR, startService, type RunningService } from '../../src/main.ts';
import { createEngine } from '../../src/model/index.ts';
import { cleanModelText } from '../../src/pipeline/clean-model-text.ts';
import { sliceToModelImage } from '../../src/pipeline/model-io/model-input-image.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ensureFixtures } from '../support/fixtures.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import type { ModalityStudy } from '../support/modality-studies.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { studyRuns, waitForRun, waitUntil } from '../support/service-probe.ts';

// A clinician's question about a study, through the real stack: POST /studies/{uid}/questions -> a question
// run -> UniMedVL understanding on the chosen slices -> the answer in the run's result and in FHIR as an
// Observation with a Provenance holding the question.

const QUESTION = 'Is there a hyperintense periventricular lesion on these FLAIR slices?';

describe('questions about a study', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let service: RunningService;
  let redis: ReturnType<typeof openTestRedis>;
  let api: string;
  let work: string;
  let study: ModalityStudy<'t2' | 'flair'>;
  let imagingStudyId: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'questions-'));
    [orthanc, fhir, study] = await Promise.all([startOrthanc(), startFhirServer(), ensureFixtures().then(async (f) => (await f.modalityStudies()).studies.brainMr)]);
    await orthanc.upload(study.files);
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', payloadType: [{ text: 'DICOM' }], address: orthanc.baseUrl,
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    const patient = await fhir.repo.createResource({ resourceType: 'Patient', name: [{ family: 'ZQXPATIENT', given: ['ALPHA'] }] });
    imagingStudyId = (await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: `Patient/${patient.id}` },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${study.studyInstanceUid}` }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    })).id!;
    redis = openTestRedis();
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0',
      EXECUTION_PROVIDER: 'cpu', ALLOW_UNAUTHENTICATED: 'true', DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
      ASK_TASK_POLL_INTERVAL_MS: '200',
    }, { logger: createLogger({ level: 'error' }) });
    api = `http://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop()]);
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const ask = (body: unknown) => fetch(`${api}/studies/${study.studyInstanceUid}/questions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const runOf = async (response: Response) => {
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    return waitForRun(api, jobId, (r) => ['completed', 'failed', 'dead-letter'].includes(r.state));
  };
  const all = async <T extends Resource>(resourceType: T['resourceType']): Promise<T[]> =>
    ((await fhir.repo.search<T>({ resourceType, count: 1000 })).entry ?? []).map((e) => e.resource!);

  it('answers on the chosen slices; the answer is the run result and a preliminary AI-labelled Observation with the question in its Provenance', async () => {
    const flair = study.series.flair;
    const run = await runOf(await ask({ question: QUESTION, series: flair.seriesInstanceUid, slices: [1, 3], maxNewTokens: 12 }));
    expect(run).toMatchObject({ kind: 'question', state: 'completed', outcome: 'answered', errorCode: null });
    expect(run.attempts.filter((a) => (a.engineCalls ?? 0) > 0)).toHaveLength(1);
    expect(run.series).toEqual([expect.objectContaining({ modality: 'MR', instances: flair.instances.length })]);

    // What the engine says for those two FLAIR slices, computed apart from the service.
    const codecs = await loadCodecs();
    const volume = assembleVolume(flair.instances.map((i) => decodeInstance(new Uint8Array(readFileSync(i.path)), codecs)));
    const engine = await createEngine({ modelDir: DEFAULT_MODEL_DIR, provider: 'cpu' });
    const expected = cleanModelText((await engine.understand({ images: [1, 3].map((k) => sliceToModelImage(volume, k)), prompt: QUESTION, maxNewTokens: 12 })).text);
    await engine.close();
    expect(run.results?.answer).toBe(expected);

    const observations = (await all<Observation>('Observation')).filter((o) => `Observation/${o.id}` === run.results?.observation);
    expect(observations).toHaveLength(1);
    const observation = observations[0]!;
    expect(observation).toMatchObject({ status: 'preliminary', valueString: expected, derivedFrom: [{ reference: `ImagingStudy/${imagingStudyId}` }] });
    expect(observation.meta?.security?.some((c) => c.code === 'AIAST')).toBe(true);
    expect(observation.subject?.reference).toMatch(/^Patient\//);
    const provenance = (await all<Provenance>('Provenance')).find((p) => p.target.some((t) => t.reference === run.results?.observation));
    expect(provenance).toBeDefined();
    const asked = provenance!.contained?.find((c): c is DocumentReference => c.resourceType === 'DocumentReference');
    expect(Buffer.from(asked!.content[0]!.attachment.data!, 'base64').toString('utf8')).toBe(QUESTION);
    expect(provenance!.agent[0]!.who?.reference).toMatch(/^Device\//);
    expect(provenance!.entity?.[0]?.what.reference).toBe(`ImagingStudy/${imagingStudyId}`);
    const validator = createResourceValidator();
    for (const resource of [observation, provenance!]) expect(() => validator.assertValid(resource)).not.toThrow();
  });

  it('without series or slices: the middle slice of the first image series', async () => {
    const run = await runOf(await ask({ question: 'What sequence is this?', maxNewTokens: 4 }));
    expect(run).toMatchObject({ state: 'completed', outcome: 'answered' });
    expect(typeof run.results?.answer).toBe('string');
  });

  it('a series that is not in the study, or slices beyond the series, fail at once with their code and write nothing', async () => {
    const before = (await all<Observation>('Observation')).length;
    const wrongSeries = await runOf(await ask({ question: QUESTION, series: '1.2.3.4.5.6.7' }));
    expect(wrongSeries).toMatchObject({ state: 'failed', errorCode: 'QUESTION_SERIES_NOT_FOUND', retryable: false });
    const wrongSlices = await runOf(await ask({ question: QUESTION, series: study.series.t2.seriesInstanceUid, slices: [0, 5] }));
    expect(wrongSlices).toMatchObject({ state: 'failed', errorCode: 'QUESTION_SLICES_INVALID', retryable: false });
    expect(wrongSlices.attempts.every((a) => (a.engineCalls ?? 0) === 0)).toBe(true);
    expect((await all<Observation>('Observation')).length).toBe(before);
    // The question text is never part of a run record.
    expect(JSON.stringify([wrongSeries, wrongSlices])).not.toContain(QUESTION);
  });

  it('a FHIR Task with code "ask" is taken, answered by a question run, and completed with the answer as its output', async () => {
    const patientRef = (await fhir.repo.readResource<ImagingStudy>('ImagingStudy', imagingStudyId)).subject!.reference!;
    const asked = 'Is the lesion larger than on the prior study?';
    const task = await fhir.repo.createResource<Task>({
      resourceType: 'Task', status: 'requested', intent: 'order',
      code: { coding: [{ system: 'http://ehr.example.org/task-code', code: 'ask' }] },
      focus: { reference: `ImagingStudy/${imagingStudyId}` }, for: { reference: patientRef },
      input: [{ type: { coding: [{ system: 'http://ehr.example.org/task-input', code: 'question' }] }, valueString: asked }],
    });
    const done = await waitUntil(() => fhir.repo.readResource<Task>('Task', task.id!), (t) => t.status === 'completed' || t.status === 'failed', 'the asking Task');
    expect(done.status, JSON.stringify(done.statusReason)).toBe('completed');
    const output = done.output?.find((o) => o.type.coding?.[0]?.code === 'answer');
    expect(typeof output?.valueString).toBe('string');
    expect(done.input?.[0]?.valueString).toBe(asked);

    const runs = (await studyRuns(api, study.studyInstanceUid)).filter((r) => r.kind === 'question' && r.trigger === 'fhir-task');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ state: 'completed', outcome: 'answered', results: { answer: output!.valueString, observation: `Task/${task.id}` } });
    const provenance = (await all<Provenance>('Provenance')).find((p) => p.target.some((t) => t.reference === `Task/${task.id}`));
    const question = provenance?.contained?.find((c): c is DocumentReference => c.resourceType === 'DocumentReference');
    expect(Buffer.from(question!.content[0]!.attachment.data!, 'base64').toString('utf8')).toBe(asked);
    // No Observation for a question asked by a Task: the Task holds the answer.
    expect((await all<Observation>('Observation')).filter((o) => o.valueString === output!.valueString && JSON.stringify(o).includes(task.id!))).toEqual([]);
  });

  it('a Task that asks nothing is rejected with the reason, and no run is made', async () => {
    const before = (await studyRuns(api, study.studyInstanceUid)).length;
    const task = await fhir.repo.createResource<Task>({
      resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ code: 'ask' }] },
      focus: { reference: `ImagingStudy/${imagingStudyId}` }, input: [{ type: { text: 'note' }, valueString: 'no question here' }],
    });
    const done = await waitUntil(() => fhir.repo.readResource<Task>('Task', task.id!), (t) => t.status !== 'requested', 'the Task taken');
    expect(done.status).toBe('rejected');
    expect(done.statusReason?.text).toBe('The Task has no input of type question with a valueString');
    expect((await studyRuns(api, study.studyInstanceUid)).length).toBe(before);
  });

  it('a Task whose question cannot be answered ends failed with the error code only', async () => {
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', payloadType: [{ text: 'DICOM' }], address: orthanc.baseUrl,
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    // An ImagingStudy whose study the PACS does not hold.
    const missing = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.826.0.1.3680043.8.498.424242' }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    });
    const asked = 'Which side is the lesion on?';
    const task = await fhir.repo.createResource<Task>({
      resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ code: 'ask' }] },
      focus: { reference: `ImagingStudy/${missing.id}` }, input: [{ type: { coding: [{ code: 'question' }] }, valueString: asked }],
    });
    const done = await waitUntil(() => fhir.repo.readResource<Task>('Task', task.id!), (t) => t.status === 'failed' || t.status === 'completed', 'the asking Task');
    expect(done.status).toBe('failed');
    expect(done.statusReason?.coding?.[0]?.code).toBe('STUDY_NOT_FOUND');
    expect(JSON.stringify(done.statusReason)).not.toContain(asked);
    expect(done.output ?? []).toEqual([]);
  });
});
