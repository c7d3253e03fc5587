// Trust boundary, end to end (issue 11): images and credentials go only where the operator allowed.
// Real Orthanc, Medplum's FHIR engine, Redis + BullMQ and the service; three recording DICOMweb servers
// in front of Orthanc: the configured one (DICOMWEB_URL, its own token), a second origin allowed with a
// token of its own, and a stranger. Every one of them forwards to Orthanc, so a leak would work and show.
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Endpoint, ImagingStudy, ImagingStudySeries, Task } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/main.ts';
import type { ResultStage } from '../../src/pipeline/result-stage-contract.ts';
import { DEFAULT_TASK_PROFILES } from '../../src/pipeline/task-profiles/index.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ensureFixtures } from '../support/fixtures.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { copyWithFreshUids, type CopiedFile } from '../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { startRecordingDicomwebServer, type RecordingServer } from '../support/recording-dicomweb-server.ts';
import { openTestRedis } from '../support/redis.ts';
import { waitForRun } from '../support/service-probe.ts';

const WADO = { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' };
const MAIN_TOKEN = 'main-pacs-token-1234';
const SECOND_TOKEN = 'second-pacs-token-5678';

describe('DICOMweb origins: allow-list and per-origin credentials', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let configured: RecordingServer;
  let second: RecordingServer;
  let stranger: RecordingServer;
  let service: RunningService;
  let redisCleanup: () => Promise<void>;
  let api: string;
  let work: string;
  let ctPath: string;
  const logLines: string[] = [];
  const analyzed: string[] = [];
  let redirectedUid: string | undefined;

  // Stands in for the model: every series is retrieved and decoded, nothing is written back.
  const capture: ResultStage = {
    analysisVersion: 'capture',
    tasksFor: () => [{ ...DEFAULT_TASK_PROFILES.profiles[0]!.tasks[0]!, profile: 'capture' }],
    async analyze({ study }) {
      analyzed.push(study.studyInstanceUid);
      return { dicomObjects: [], tasks: 0, engineCalls: 0 };
    },
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'endpoint-trust-'));
    [orthanc, fhir] = await Promise.all([startOrthanc(), startFhirServer()]);
    ctPath = (await ensureFixtures()).samples.CT_small.path;
    stranger = await startRecordingDicomwebServer({ forwardTo: orthanc.baseUrl });
    [configured, second] = await Promise.all([
      // Answers 307 to the stranger for the one study a test names, forwards everything else.
      startRecordingDicomwebServer({
        forwardTo: orthanc.baseUrl,
        answer: (request) => (redirectedUid && request.url.includes(redirectedUid)
          ? { status: 307, headers: { location: `${stranger.origin}${request.url}` } }
          : undefined),
      }),
      startRecordingDicomwebServer({ forwardTo: orthanc.baseUrl }),
    ]);
    const { prefix, cleanup } = openTestRedis();
    redisCleanup = cleanup;
    const logger = createLogger({ level: 'debug', destination: new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }) });
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0',
      RETRY_FIRST_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '300', ALLOW_UNAUTHENTICATED: 'true',
      DICOMWEB_URL: configured.baseUrl, DICOMWEB_TOKEN: MAIN_TOKEN,
      // Written the way an operator might: upper case, default-less port, trailing slash.
      DICOMWEB_ALLOWED_ORIGINS: `${second.origin.replace('http://', 'HTTP://')}/`,
      DICOMWEB_ORIGIN_CREDENTIALS: JSON.stringify({ [second.origin]: { token: SECOND_TOKEN } }),
    }, { logger, results: capture });
    api = `http://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop(), configured?.stop(), second?.stop(), stranger?.stop()]);
    await redisCleanup?.();
    rmSync(work, { recursive: true, force: true });
  });

  async function uploadStudy(name: string): Promise<CopiedFile> {
    const [file] = await copyWithFreshUids([ctPath], path.join(work, name));
    await orthanc.upload([file!.path]);
    return file!;
  }

  const endpoint = (address: string, id?: string): Endpoint => ({
    resourceType: 'Endpoint', ...(id ? { id } : {}), status: 'active', connectionType: WADO, payloadType: [{ text: 'DICOM' }], address,
  });

  async function imagingStudy(file: CopiedFile, shape: Partial<ImagingStudy>): Promise<string> {
    const created = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${file.studyInstanceUid}` }],
      ...shape,
    });
    return created.id!;
  }

  async function runFor(imagingStudyId: string) {
    const response = await fetch(`${api}/fhir/notify/ImagingStudy/${imagingStudyId}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id: imagingStudyId, status: 'available' }),
    });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { jobs?: { jobId: string }[]; jobId?: string };
    return waitForRun(api, body.jobId ?? body.jobs![0]!.jobId);
  }

  async function taskOf(imagingStudyId: string): Promise<Task> {
    const bundle = await fhir.repo.search<Task>({ resourceType: 'Task', filters: [{ code: 'focus', operator: 'eq' as never, value: `ImagingStudy/${imagingStudyId}` }] });
    const tasks = (bundle.entry ?? []).map((e) => e.resource!);
    expect(tasks).toHaveLength(1);
    return tasks[0]!;
  }

  const mentions = (server: RecordingServer, uid: string) => server.requests.filter((r) => r.url.includes(uid));

  it('refuses Endpoints naming another server (plain, contained, series-level, userinfo): ENDPOINT_NOT_ALLOWED on the run and the Task, nothing fetched anywhere', async () => {
    const plain = await uploadStudy('plain');
    const plainEndpoint = await fhir.repo.createResource(endpoint(`${stranger.baseUrl}/studies/${plain.studyInstanceUid}`));
    const contained = await uploadStudy('contained');
    const onSeries = await uploadStudy('series');
    const userinfo = await uploadStudy('userinfo');
    const configuredEndpoint = await fhir.repo.createResource(endpoint(configured.baseUrl));
    const series = (file: CopiedFile, reference: string): ImagingStudySeries[] =>
      [{ uid: file.seriesInstanceUid, modality: { code: 'CT' }, endpoint: [{ reference }] }];
    const cases = [
      { file: plain, id: await imagingStudy(plain, { endpoint: [{ reference: `Endpoint/${plainEndpoint.id}` }] }) },
      { file: contained, id: await imagingStudy(contained, { contained: [endpoint(stranger.baseUrl, 'pacs')], endpoint: [{ reference: '#pacs' }] }) },
      {
        file: onSeries,
        id: await imagingStudy(onSeries, {
          endpoint: [{ reference: `Endpoint/${configuredEndpoint.id}` }],
          contained: [endpoint(stranger.baseUrl, 'elsewhere')],
          series: series(onSeries, '#elsewhere'),
        }),
      },
      // Reads like the configured server; the host is the stranger's.
      { file: userinfo, id: await imagingStudy(userinfo, { contained: [endpoint(`http://${configured.host}@${stranger.host}/dicom-web`, 'trick')], endpoint: [{ reference: '#trick' }] }) },
    ];

    for (const { file, id } of cases) {
      const run = await runFor(id);
      expect(run, file.path).toMatchObject({ state: 'failed', errorCode: 'ENDPOINT_NOT_ALLOWED' });
      const task = await taskOf(id);
      expect(task.status).toBe('failed');
      expect(task.statusReason?.coding?.[0]?.code).toBe('ENDPOINT_NOT_ALLOWED');
      // Nothing fetched from (or sent to) any server about this study, the configured one included.
      expect(mentions(configured, file.studyInstanceUid)).toEqual([]);
      expect(mentions(second, file.studyInstanceUid)).toEqual([]);
      expect(analyzed).not.toContain(file.studyInstanceUid);
    }
    expect(stranger.requests).toEqual([]);
    // No address and no UID in what the service logged about the refusals.
    const logged = logLines.join('');
    expect(logged).not.toContain(stranger.host);
    for (const { file } of cases) expect(logged).not.toContain(file.studyInstanceUid);
  });

  it('retrieves from an explicitly allowed second origin with its own credentials; each origin only ever sees its own token', async () => {
    const file = await uploadStudy('second');
    const onSecond = await fhir.repo.createResource(endpoint(`${second.baseUrl}/studies/${file.studyInstanceUid}`));
    const id = await imagingStudy(file, { endpoint: [{ reference: `Endpoint/${onSecond.id}` }] });
    const run = await runFor(id);
    expect(run).toMatchObject({ state: 'completed', errorCode: null });
    expect(analyzed).toContain(file.studyInstanceUid);
    expect((await taskOf(id)).status).toBe('completed');

    const used = mentions(second, file.studyInstanceUid);
    expect(used.map((r) => r.method)).toContain('GET');
    expect(used.some((r) => /\/series\/[^/]+$/.test(r.url.split('?')[0]!))).toBe(true); // the WADO-RS retrieval
    expect(mentions(configured, file.studyInstanceUid)).toEqual([]);
    expect(second.requests.length).toBeGreaterThan(0);
    expect(second.requests.every((r) => r.headers.authorization === `Bearer ${SECOND_TOKEN}`)).toBe(true);
    expect(configured.requests.every((r) => r.headers.authorization === `Bearer ${MAIN_TOKEN}`)).toBe(true);
    expect(stranger.requests).toEqual([]);
  });

  it('still uses DICOMWEB_URL with its token for a study that names no Endpoint', async () => {
    const file = await uploadStudy('default');
    const id = await imagingStudy(file, {});
    const run = await runFor(id);
    expect(run).toMatchObject({ state: 'completed', errorCode: null });
    const used = mentions(configured, file.studyInstanceUid);
    expect(used.length).toBeGreaterThan(0);
    expect(used.every((r) => r.headers.authorization === `Bearer ${MAIN_TOKEN}`)).toBe(true);
    expect(mentions(second, file.studyInstanceUid)).toEqual([]);
  });

  it('does not follow a 307 from DICOMWEB_URL to another server: UPSTREAM_REDIRECT_REFUSED on the run and the Task, the token stays home', async () => {
    const file = await uploadStudy('redirected');
    redirectedUid = file.studyInstanceUid;
    const id = await imagingStudy(file, {});
    const run = await runFor(id);
    expect(run).toMatchObject({ state: 'failed', errorCode: 'UPSTREAM_REDIRECT_REFUSED' });
    const task = await taskOf(id);
    expect(task.status).toBe('failed');
    expect(task.statusReason?.coding?.[0]?.code).toBe('UPSTREAM_REDIRECT_REFUSED');
    expect(mentions(configured, file.studyInstanceUid).length).toBeGreaterThan(0);
    expect(stranger.requests).toEqual([]);
    expect(analyzed).not.toContain(file.studyInstanceUid);
  });
});
