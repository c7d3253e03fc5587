import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticReport, ImagingStudy, Provenance, Resource, Task } from '@medplum/fhirtypes';
import { createDicomwebClient } from '../../src/dicom/dicomweb/dicomweb-client.ts';
import { firstString, Tag } from '../../src/dicom/dicom-json.ts';
import { createFhirClient } from '../../src/fhir/fhir-client.ts';
import { searchImagingStudiesUpdatedSince } from '../../src/fhir/read-imaging-study.ts';
import { startService, type RunningService } from '../../src/main.ts';
import type { RunView } from '../../src/queue/run-view.ts';
import { createRunStore } from '../../src/queue/run-store.ts';
import { createStudyMemory } from '../../src/queue/study-memory.ts';
import { createEnqueueStudy } from '../../src/queue/study-producer.ts';
import { createStudyQueue } from '../../src/queue/study-queue.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { createReconciler } from '../../src/triggers/reconciler.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { ensureFixtures } from '../support/fixtures.ts';
import type { ModalityStudy } from '../support/modality-studies.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { copyWithFreshUids } from '../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { settledStudyRuns, waitForRun } from '../support/service-probe.ts';

// How runs behave in the face of what hospitals see: outages of the FHIR server and the PACS longer
// than the old retry budget, duplicate triggers of every kind, studies with nothing to analyze, and
// periodic reconciliation. Every party is real: Orthanc (behind a fault-injecting forwarder where a
// test needs the PACS to refuse), the Medplum FHIR engine, Redis + BullMQ, the tiny model.

const PROFILES = `
version: 1
profiles:
  - name: ct
    match: { modality: [CT] }
    tasks:
      - { id: ct-report, kind: report, prompt: Describe this CT., slices: { mode: middle }, decode: { maxNewTokens: 6 } }
`;
const CT = 'samples/sample-study/ct-01.dcm';
/** The old policy gave up after five attempts; these outages outlast that. */
const LONGER_THAN_THE_OLD_BUDGET = 6;

describe('runs through outages, duplicates and studies with nothing to analyze', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let proxy: FaultProxy;
  let service: RunningService;
  let redis: ReturnType<typeof openTestRedis>;
  let api: string;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'run-outcomes-'));
    writeFileSync(join(work, 'profiles.yaml'), PROFILES);
    [orthanc, fhir] = await Promise.all([startOrthanc(), startFhirServer()]);
    proxy = await startFaultProxy(orthanc.restUrl);
    redis = openTestRedis();
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0', ALLOW_UNAUTHENTICATED: 'true',
      EXECUTION_PROVIDER: 'cpu', TASK_PROFILES_FILE: join(work, 'profiles.yaml'),
      DICOMWEB_ALLOWED_ORIGINS: `${new URL(orthanc.baseUrl).origin},${new URL(proxy.baseUrl(orthanc.baseUrl)).origin}`,
      RETRY_FIRST_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '150', STUDY_LOCK_RETRY_MS: '100',
    }, { logger: createLogger({ level: 'error' }) });
    api = `http://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop(), proxy?.stop()]);
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Uploads copies of `sources` as one new study (or a fixture study as it is) and registers its ImagingStudy (Endpoint: Orthanc, or the proxy). */
  async function newStudy(sources: string[] | ModalityStudy, options: { viaProxy?: boolean } = {}) {
    const files = Array.isArray(sources)
      ? await copyWithFreshUids(sources, mkdtempSync(join(work, 'study-')), { sameSeries: true })
      : sources.files.map((path) => ({ path, studyInstanceUid: sources.studyInstanceUid, seriesInstanceUid: '' }));
    await orthanc.upload(files.map((f) => f.path));
    const studyUid = files[0]!.studyInstanceUid;
    const seriesUid = files[0]!.seriesInstanceUid;
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', payloadType: [{ text: 'DICOM' }],
      address: options.viaProxy ? proxy.baseUrl(orthanc.baseUrl) : orthanc.baseUrl,
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    });
    return { studyUid, seriesUid, imagingStudyId: study.id! };
  }

  const notify = (imagingStudyId: string) =>
    fetch(`${api}/fhir/notify/ImagingStudy/${imagingStudyId}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id: imagingStudyId, status: 'available' }),
    });
  const analyze = (studyUid: string) => fetch(`${api}/studies/${studyUid}/analyze`, { method: 'POST' });
  const jobIdOf = async (response: Response) => {
    const body = (await response.json()) as { jobs?: { jobId: string }[]; jobId?: string };
    return body.jobId ?? body.jobs![0]!.jobId;
  };

  const all = async <T extends Resource>(resourceType: T['resourceType']): Promise<T[]> =>
    ((await fhir.repo.search<T>({ resourceType, count: 1000 })).entry ?? []).map((e) => e.resource!);
  const about = <T extends Resource>(resources: T[], imagingStudyId: string) =>
    resources.filter((r) => JSON.stringify(r).includes(`"ImagingStudy/${imagingStudyId}"`));
  const taskOf = async (imagingStudyId: string) => {
    const tasks = about(await all<Task>('Task'), imagingStudyId);
    expect(tasks).toHaveLength(1);
    return tasks[0]!;
  };
  /** Attempts that called the model, over all of a study's runs. */
  const modelAttempts = (runs: RunView[]) => runs.flatMap((r) => r.attempts).filter((a) => (a.engineCalls ?? 0) > 0);
  const failedAttempts = (run: RunView, stage: 'analyze' | 'publish') => run.attempts.filter((a) => a.stage === stage && a.outcome === 'failed');

  async function seriesOf(studyUid: string) {
    const client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
    try {
      return (await client.searchSeries(studyUid)).map((s) => firstString(s, Tag.Modality)).sort();
    } finally {
      await client.close();
    }
  }

  it('FHIR down, then refusing result writes, for longer than the old retry budget: the run waits, completes once, the model ran once', async () => {
    const study = await newStudy([CT]);
    fhir.failWhile(503);
    const runId = await jobIdOf(await notify(study.imagingStudyId));
    // Analysis waits for the FHIR server (it re-reads the ImagingStudy from it) without giving up.
    await waitForRun(api, runId, (r) => failedAttempts(r, 'analyze').length >= 2);
    // Back for reads, still refusing the result transaction: the analysis runs, the publishing waits.
    fhir.failWhile(503, (r) => r.method === 'POST' && r.url === '');
    const waiting = await waitForRun(api, runId, (r) => failedAttempts(r, 'publish').length >= LONGER_THAN_THE_OLD_BUDGET);
    expect(waiting.state).toBe('retrying');
    expect(waiting.errorCode).toBe('UPSTREAM_HTTP_ERROR');
    const task = await taskOf(study.imagingStudyId);
    expect(task.status).toBe('in-progress');
    expect(task.businessStatus?.coding?.[0]?.code).toBe('waiting-for-fhir');
    fhir.restore();

    const run = await waitForRun(api, runId);
    expect(run).toMatchObject({ state: 'completed', outcome: 'published' });
    expect(failedAttempts(run, 'analyze').every((a) => a.retryable)).toBe(true);
    expect(modelAttempts(await settledStudyRuns(api, study.studyUid))).toHaveLength(1);
    expect(run.attempts.filter((a) => a.stage === 'publish' && a.outcome === 'completed')).toHaveLength(1);
    expect(about(await all<DiagnosticReport>('DiagnosticReport'), study.imagingStudyId)).toHaveLength(1);
    expect(about(await all<Provenance>('Provenance'), study.imagingStudyId)).toHaveLength(1);
    expect((await taskOf(study.imagingStudyId)).status).toBe('completed');
    expect(await seriesOf(study.studyUid)).toEqual(['CT', 'SR']);
  });

  it('STOW refused transiently, then accepted: published once, the model ran once', async () => {
    const study = await newStudy([CT], { viaProxy: true });
    proxy.failWhile(503, (r) => r.method === 'POST');
    const runId = await jobIdOf(await notify(study.imagingStudyId));
    const waiting = await waitForRun(api, runId, (r) => failedAttempts(r, 'publish').length >= 2);
    expect(failedAttempts(waiting, 'publish').every((a) => a.errorCode === 'UPSTREAM_HTTP_ERROR' && a.retryable)).toBe(true);
    const task = await taskOf(study.imagingStudyId);
    expect(task.status).toBe('in-progress');
    expect(task.businessStatus?.coding?.[0]?.code).toBe('waiting-for-pacs');
    proxy.restore();

    const run = await waitForRun(api, runId);
    expect(run).toMatchObject({ state: 'completed', outcome: 'published' });
    expect(run.results?.dicomObjects.map((o) => o.outcome)).toEqual(['stored']);
    expect(modelAttempts(await settledStudyRuns(api, study.studyUid))).toHaveLength(1);
    expect(await seriesOf(study.studyUid)).toEqual(['CT', 'SR']);
    expect(about(await all<DiagnosticReport>('DiagnosticReport'), study.imagingStudyId)).toHaveLength(1);
  });

  it('a notification, POST /studies/{uid}/analyze and 20 duplicates of both for one study: one model run, one result set', async () => {
    const study = await newStudy([CT]);
    const responses = await Promise.all([
      notify(study.imagingStudyId), analyze(study.studyUid),
      ...Array.from({ length: 20 }, (_, i) => (i % 2 ? notify(study.imagingStudyId) : analyze(study.studyUid))),
    ]);
    expect(responses.every((r) => r.status === 202)).toBe(true);
    const runs = await settledStudyRuns(api, study.studyUid);
    expect(modelAttempts(runs)).toHaveLength(1);
    const published = runs.filter((r) => r.outcome === 'published');
    expect(published).toHaveLength(1);
    // Every other run (the two trigger kinds cannot fold before the study is known) found the input unchanged.
    expect(runs.filter((r) => r !== published[0]).every((r) => r.outcome === 'unchanged' && r.resultsOf === published[0]!.id)).toBe(true);
    expect(runs.every((r) => r.state === 'completed')).toBe(true);
    expect(about(await all<DiagnosticReport>('DiagnosticReport'), study.imagingStudyId)).toHaveLength(1);
    expect((await taskOf(study.imagingStudyId)).status).toBe('completed');
    expect(await seriesOf(study.studyUid)).toEqual(['CT', 'SR']);
  });

  it('a study of only SR and RT objects: the Task is rejected, saying why, never failed', async () => {
    const study = await newStudy((await (await ensureFixtures()).modalityStudies()).studies.reportsOnly);
    const run = await waitForRun(api, await jobIdOf(await notify(study.imagingStudyId)));
    expect(run).toMatchObject({ state: 'completed', outcome: 'no-image-series', errorCode: null, modalities: ['RTPLAN', 'RTSTRUCT', 'SR'] });
    expect(modelAttempts([run])).toHaveLength(0);
    const task = await taskOf(study.imagingStudyId);
    expect(task.status).toBe('rejected');
    expect(task.statusReason?.coding?.[0]?.code).toBe('NO_IMAGE_SERIES');
    expect(task.statusReason?.text).toBe('The study has no image series to analyze (series modalities: RTPLAN, RTSTRUCT, SR)');
  });

  it('an ultrasound study, which no task profile matches: the Task is completed and names the modality', async () => {
    const ultrasound = (await (await ensureFixtures()).modalityStudies()).studies.ultrasound;
    const study = await newStudy(ultrasound);
    const run = await waitForRun(api, await jobIdOf(await notify(study.imagingStudyId)));
    expect(run).toMatchObject({ state: 'completed', outcome: 'no-matching-profile', modalities: ['US'], unmatchedModalities: ['US'] });
    expect(modelAttempts([run])).toHaveLength(0);
    // Nothing was retrieved: only the series' metadata was read to plan.
    expect(run.series).toEqual([]);
    const task = await taskOf(study.imagingStudyId);
    expect(task.status).toBe('completed');
    expect(task.businessStatus?.coding?.[0]?.code).toBe('no-task-profile');
    expect(task.businessStatus?.text).toBe('No task profile for modalities: US');
    expect(await seriesOf(study.studyUid)).toEqual(['US', 'US']);
  });

  it('a study that changed while its results waited to be sent: the older run steps aside, only the newer results are published', async () => {
    const first = await newStudy([CT]);
    fhir.failWhile(503, (r) => r.method === 'POST' && r.url === '');
    const olderId = await jobIdOf(await notify(first.imagingStudyId));
    await waitForRun(api, olderId, (r) => failedAttempts(r, 'publish').length >= 1);
    // One more instance in the study's series: a new input, analyzed by a new run while the first still waits.
    const [extra] = await copyWithFreshUids(['samples/sample-study/ct-02.dcm'], mkdtempSync(join(work, 'extra-')), {
      modify: [`(0020,000d)=${first.studyUid}`, `(0020,000e)=${first.seriesUid}`],
    });
    await orthanc.upload([extra!.path]);
    const newerId = await jobIdOf(await notify(first.imagingStudyId));
    expect(newerId).not.toBe(olderId);
    await waitForRun(api, newerId, (r) => failedAttempts(r, 'publish').length >= 1);
    fhir.restore();

    const [older, newer] = [await waitForRun(api, olderId), await waitForRun(api, newerId)];
    expect([older.outcome, newer.outcome]).toEqual(['superseded', 'published']);
    expect(newer.inputIdentity).not.toBe(older.inputIdentity);
    expect(about(await all<DiagnosticReport>('DiagnosticReport'), first.imagingStudyId)).toHaveLength(1);
    expect(newer.series[0]!.instances).toBe(2);
  });

  it('reconciliation converges: at start-up it skips what already ran, ten cycles enqueue nothing unchanged, a changed study once', async () => {
    // A fresh reconciler, as after a restart, on the same Redis as the service and its runs.
    const connection = redis.redis;
    const runs = createRunStore(connection, redis.prefix, { retentionMs: 3_600_000, retentionCount: 1000 });
    const memory = createStudyMemory(connection, redis.prefix, { ttlMs: 3_600_000 });
    const queue = createStudyQueue(connection, redis.prefix);
    const enqueue = createEnqueueStudy({ queue, redis: connection, runs, memory, debounceMs: 0, retention: { retentionMs: 3_600_000, retentionCount: 1000 } });
    const enqueued: string[] = [];
    const client = createFhirClient({ baseUrl: fhir.baseUrl });
    const reconciler = createReconciler({
      searchUpdatedSince: async (since) => (await searchImagingStudiesUpdatedSince(client, since.toISOString())).map((s) => ({
        id: s.id, ...(s.meta?.versionId ? { versionId: s.meta.versionId } : {}), ...(s.meta?.lastUpdated ? { lastUpdated: s.meta.lastUpdated } : {}),
      })),
      enqueueStudy: async (request) => {
        enqueued.push(request.study.imagingStudyId!);
        return enqueue(request);
      },
      versions: memory,
      logger: createLogger({ level: 'silent' }),
      initialLookbackMs: 24 * 3600 * 1000,
    });
    try {
      // Every study so far ran to an end through notifications or the API: nothing to do.
      for (let cycle = 0; cycle < 10; cycle += 1) await reconciler.request();
      expect(enqueued).toEqual([]);

      const changed = await newStudy([CT]);
      const [existing] = (await fhir.repo.search<ImagingStudy>({ resourceType: 'ImagingStudy', filters: [{ code: '_id', operator: 'eq' as never, value: changed.imagingStudyId }] })).entry!;
      await fhir.repo.updateResource<ImagingStudy>({ ...existing!.resource!, description: 'updated' });
      for (let cycle = 0; cycle < 10; cycle += 1) await reconciler.request();
      expect(enqueued).toEqual([changed.imagingStudyId]);
      const settled = await settledStudyRuns(api, changed.studyUid);
      expect(settled.map((r) => [r.trigger, r.outcome])).toEqual([['reconcile', 'published']]);
    } finally {
      await queue.close();
    }
  });

  it('at the end of the publish window the run is dead-lettered, its Task on hold; POST /jobs/{id}/retry publishes it without the model', async () => {
    // A second service on its own queues, with no publish window: the first transient fault ends it.
    const other = openTestRedis();
    const shortWindow = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: other.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0', ALLOW_UNAUTHENTICATED: 'true',
      EXECUTION_PROVIDER: 'cpu', TASK_PROFILES_FILE: join(work, 'profiles.yaml'), PUBLISH_RETRY_WINDOW_MS: '0',
      DICOMWEB_ALLOWED_ORIGINS: `${new URL(orthanc.baseUrl).origin},${new URL(proxy.baseUrl(orthanc.baseUrl)).origin}`,
    }, { logger: createLogger({ level: 'silent' }) });
    const otherApi = `http://127.0.0.1:${shortWindow.port}`;
    try {
      const study = await newStudy([CT]);
      fhir.failWhile(503, (r) => r.method === 'POST' && r.url === '');
      const runId = await jobIdOf(await fetch(`${otherApi}/studies/${study.studyUid}/analyze`, { method: 'POST' }));
      const dead = await waitForRun(otherApi, runId);
      expect(dead).toMatchObject({ state: 'dead-letter', stage: 'publish', errorCode: 'UPSTREAM_HTTP_ERROR', retryable: true });
      const held = await taskOf(study.imagingStudyId);
      expect(held.status).toBe('on-hold');
      expect(held.statusReason?.coding?.[0]?.code).toBe('UPSTREAM_HTTP_ERROR');
      expect(await (await fetch(`${otherApi}/metrics`)).text()).toMatch(/unimedvl_runs_dead_letter\{kind="analysis"\} 1/);
      fhir.restore();

      const replay = await fetch(`${otherApi}/jobs/${runId}/retry`, { method: 'POST' });
      expect(replay.status).toBe(202);
      expect(await replay.json()).toEqual({ jobId: runId, replayed: runId, stage: 'publish' });
      const run = await waitForRun(otherApi, runId, (r) => r.state === 'completed');
      expect(run.outcome).toBe('published');
      expect(modelAttempts([run])).toHaveLength(1);
      expect(run.attempts.map((a) => [a.stage, a.outcome])).toEqual([['analyze', 'completed'], ['publish', 'failed'], ['publish', 'completed']]);
      expect((await taskOf(study.imagingStudyId)).status).toBe('completed');
      expect(about(await all<DiagnosticReport>('DiagnosticReport'), study.imagingStudyId)).toHaveLength(1);
      expect((await fetch(`${otherApi}/jobs/${runId}/retry`, { method: 'POST' })).status).toBe(409);
    } finally {
      fhir.restore();
      await shortWindow.stop();
      await other.cleanup();
    }
  });
});
