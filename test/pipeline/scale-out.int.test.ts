import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticReport, ImagingStudy, Resource } from '@medplum/fhirtypes';
import { createDicomwebClient } from '../../src/dicom/dicomweb/dicomweb-client.ts';
import { firstString, Tag } from '../../src/dicom/dicom-json.ts';
import { startService, type RunningService } from '../../src/main.ts';
import type { RunView } from '../../src/queue/run-view.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { copyWithFreshUids } from '../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { settledStudyRuns, waitForRun, waitUntil } from '../support/service-probe.ts';

// Scale-out as deployed: one `api` process (here in the test process) and two `worker` processes (the
// CLI, spawned) on one Redis, with real Orthanc, the FHIR test server and the tiny model in each worker.

const PROFILES = `
version: 1
profiles:
  - name: ct
    match: { modality: [CT] }
    tasks:
      - { id: ct-report, kind: report, prompt: Describe this CT., slices: { mode: middle }, decode: { maxNewTokens: 6 } }
  - name: long
    match: { modality: [CT], seriesDescription: '^LONG$' }
    tasks:
      - id: ct-lungs
        kind: segmentation
        prompt: Please help me segment the lungs.
        slices: { mode: all, max: 5 }
        guidance: { steps: 100 }
        structure:
          label: Lungs
          category: { value: '123037004', meaning: Anatomical Structure }
          type: { value: '39607008', meaning: Lung }
          colour: [80, 160, 255]
`;
const CT = 'samples/sample-study/ct-01.dcm';
const RUN_LOCK_MS = 5000;
const RUN_STALLED_CHECK_MS = 1000;

interface WorkerProcess {
  child: ChildProcessWithoutNullStreams;
  output: string[];
  exited: Promise<void>;
}

describe('two worker processes on one Redis', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let redis: ReturnType<typeof openTestRedis>;
  let api: RunningService;
  let base: string;
  let work: string;
  const workers: WorkerProcess[] = [];
  let env: Record<string, string>;

  function spawnWorker(): WorkerProcess {
    // Node itself (tsx as a loader), so the pid is the worker's own and SIGKILL reaches it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], { env: { ...process.env, ...env } });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const worker = { child, output, exited };
    workers.push(worker);
    return worker;
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'scale-out-'));
    writeFileSync(join(work, 'profiles.yaml'), PROFILES);
    [orthanc, fhir] = await Promise.all([startOrthanc(), startFhirServer()]);
    redis = openTestRedis();
    env = {
      QUEUE_PREFIX: redis.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0', EXECUTION_PROVIDER: 'cpu',
      TASK_PROFILES_FILE: join(work, 'profiles.yaml'), WORKER_CONCURRENCY: '2', LOG_LEVEL: 'info',
      RUN_LOCK_MS: String(RUN_LOCK_MS), RUN_STALLED_CHECK_MS: String(RUN_STALLED_CHECK_MS), STUDY_LOCK_RETRY_MS: '100',
      RETRY_FIRST_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '300', DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
    };
    api = await startService('api', { ...env, PORT: '0', HOST: '127.0.0.1', ALLOW_UNAUTHENTICATED: 'true' }, { logger: createLogger({ level: 'warn' }) });
    base = `http://127.0.0.1:${api.port}`;
    const started = [spawnWorker(), spawnWorker()];
    for (const worker of started) {
      await waitUntil(async () => worker.output.join(''), (text) => text.includes('"msg":"workers started"') || worker.child.exitCode !== null, 'worker start');
      expect(worker.child.exitCode, worker.output.join('')).toBeNull();
    }
  });

  afterAll(async () => {
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
    }
    await api?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop()]);
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function newStudy(sources: string[], modify: string[] = []) {
    const files = await copyWithFreshUids(sources, mkdtempSync(join(work, 'study-')), { sameSeries: true, modify });
    await orthanc.upload(files.map((f) => f.path));
    const studyUid = files[0]!.studyInstanceUid;
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', address: orthanc.baseUrl, payloadType: [{ text: 'DICOM' }],
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    });
    return { studyUid, imagingStudyId: study.id! };
  }
  const notify = (imagingStudyId: string) =>
    fetch(`${base}/fhir/notify/ImagingStudy/${imagingStudyId}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id: imagingStudyId, status: 'available' }),
    });
  const analyze = (studyUid: string) => fetch(`${base}/studies/${studyUid}/analyze`, { method: 'POST' });
  const all = async <T extends Resource>(resourceType: T['resourceType']): Promise<T[]> =>
    ((await fhir.repo.search<T>({ resourceType, count: 1000 })).entry ?? []).map((e) => e.resource!);
  const reportsAbout = async (imagingStudyId: string) =>
    (await all<DiagnosticReport>('DiagnosticReport')).filter((r) => r.imagingStudy?.[0]?.reference === `ImagingStudy/${imagingStudyId}`);
  const modelAttempts = (runs: RunView[]) => runs.flatMap((r) => r.attempts).filter((a) => (a.engineCalls ?? 0) > 0);
  const pids = () => workers.map((w) => w.child.pid);

  it('ten studies, each triggered by a notification and by the API: ten model runs, never two runs of one study at once', async () => {
    const studies = await Promise.all(Array.from({ length: 10 }, () => newStudy([CT])));
    const responses = await Promise.all(studies.flatMap((s) => [notify(s.imagingStudyId), analyze(s.studyUid)]));
    expect(responses.every((r) => r.status === 202)).toBe(true);

    const runsByStudy = await Promise.all(studies.map(async (s) => (await settledStudyRuns(base, s.studyUid))));
    const everyRun = runsByStudy.flat();
    expect(everyRun.every((r) => r.state === 'completed'), JSON.stringify(everyRun.map((r) => [r.state, r.errorCode]))).toBe(true);
    expect(modelAttempts(everyRun)).toHaveLength(10);
    for (const [index, runs] of runsByStudy.entries()) {
      expect(runs.filter((r) => r.outcome === 'published')).toHaveLength(1);
      expect(runs.filter((r) => r.outcome !== 'published').every((r) => r.outcome === 'unchanged')).toBe(true);
      expect(await reportsAbout(studies[index]!.imagingStudyId)).toHaveLength(1);
      // The study lock's hold times, on the Redis server's clock, across both processes: never overlapping.
      const holds = runs.flatMap((r) => r.attempts).map((a) => a.lock!).sort((a, b) => a.fromUs - b.fromUs);
      expect(holds.every((h) => h !== undefined && h.toUs !== null)).toBe(true);
      for (let i = 1; i < holds.length; i += 1) expect(holds[i]!.fromUs).toBeGreaterThanOrEqual(holds[i - 1]!.toUs!);
    }
    // Work was done by the two worker processes only (the api process runs none).
    const ran = new Set(everyRun.flatMap((r) => r.attempts).map((a) => Number(a.worker.split(':').at(-1))));
    for (const pid of ran) expect(pids()).toContain(pid);
  });

  it('SIGKILL of a worker mid-model: the other takes the run up, the stalled attempt is logged and in its history, one result set', async () => {
    const files = readdirSync('samples/sample-study').filter((n) => n.startsWith('ct-')).map((n) => join('samples/sample-study', n));
    const study = await newStudy(files, ['(0008,103e)=LONG']);
    const response = await notify(study.imagingStudyId);
    const runId = ((await response.json()) as { jobs: { jobId: string }[] }).jobs[0]!.jobId;
    const inModel = await waitForRun(base, runId, (r) => r.progress?.stage === 'model' && r.progress.percent > 50);
    const holder = Number(inModel.attempts.at(-1)!.worker.split(':').at(-1));
    const victim = workers.find((w) => w.child.pid === holder)!;
    const survivor = workers.find((w) => w !== victim && w.child.exitCode === null)!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;

    const run = await waitForRun(base, runId);
    expect(run).toMatchObject({ state: 'completed', outcome: 'published' });
    const stalled = run.events.find((e) => e.type === 'stalled');
    expect(stalled).toMatchObject({ stage: 'analyze' });
    expect(run.attempts.map((a) => [a.stage, a.outcome, Number(a.worker.split(':').at(-1))])).toEqual([
      ['analyze', 'stalled', holder], ['analyze', 'completed', survivor.child.pid], ['publish', 'completed', survivor.child.pid],
    ]);
    const log = survivor.output.join('').split('\n').filter((line) => line.includes('run stalled'));
    expect(log.map((line) => JSON.parse(line) as { runId: string; stage: string })).toEqual([expect.objectContaining({ runId, stage: 'analyze' })]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/unimedvl_runs_stalled_total\{kind="analysis"\} 1/);

    // Exactly one result set: one report, one SEG and one SR series next to the CT.
    expect(await reportsAbout(study.imagingStudyId)).toHaveLength(1);
    const client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
    const series = (await client.searchSeries(study.studyUid)).map((s) => firstString(s, Tag.Modality)).sort();
    await client.close();
    expect(series).toEqual(['CT', 'SEG', 'SR']);
    console.log(`stalled run detected ${Date.parse(stalled!.at) - killedAt} ms after SIGKILL (bound ${RUN_LOCK_MS + RUN_STALLED_CHECK_MS} ms)`);
  });
});
