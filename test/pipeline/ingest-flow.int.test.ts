import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImagingStudy, Task } from '@medplum/fhirtypes';
import { startService, type RunningService } from '../../src/main.ts';
import type { ResultStage } from '../../src/pipeline/result-stage-contract.ts';
import { DEFAULT_TASK_PROFILES } from '../../src/pipeline/task-profiles/index.ts';
import type { Volume } from '../../src/dicom/volume/volume.ts';
import type { RunView } from '../../src/queue/run-view.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { decodeInstance, loadCodecs, readPart10, type Codecs } from '../../src/dicom/pixels/index.ts';
import { TransferSyntaxUnsupportedError } from '../../src/shared/errors.ts';
import { ensureFixtures, FIXTURE_PATIENT, type FixturePaths, type SampleFixture, type SampleName } from '../support/fixtures.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { settledStudyRuns } from '../support/service-probe.ts';

// Notification -> job -> Orthanc retrieval -> decoded volumes -> Task completed, with every party real:
// Orthanc + DICOMweb plugin, Redis + BullMQ, Medplum's FHIR engine, the service's own HTTP server.

const SAMPLES: SampleName[] = ['MR_small', 'MR_small_RLE', 'MR_small_jpeg_ls_lossless', 'MR_small_jp2klossless', 'MR_small_bigendian',
  'MR_small_implicit', 'SC_rgb_jpeg_dcmtk', 'MF_grey', 'JPGExtended', 'MR_small_jpeg_lossless_sv1', 'MR_small_jpeg_lossless', 'image_dfl',
  'SC_ybr_full_422_uncompressed', 'MR_small_mono1', 'MF_grey_jpeg_lossless_fragmented'];

describe('ingest flow: notification to decoded volumes', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let fixtures: FixturePaths;
  let service: RunningService;
  let redisCleanup: () => Promise<void>;
  let api: string;
  let codecs: Codecs;
  const volumes = new Map<string, Volume[]>();
  const logLines: string[] = [];

  // Stands in for the model: every series is analyzed, the volumes are kept, nothing is written.
  const capture: ResultStage = {
    analysisVersion: 'capture',
    tasksFor: () => [{ ...DEFAULT_TASK_PROFILES.profiles[0]!.tasks[0]!, profile: 'capture' }],
    async analyze({ study, series }) {
      volumes.set(study.studyInstanceUid, series.map((s) => s.volume));
      return { dicomObjects: [], tasks: 0, engineCalls: 0 };
    },
  };

  beforeAll(async () => {
    [orthanc, fhir, fixtures, codecs] = await Promise.all([startOrthanc(), startFhirServer(), ensureFixtures(), loadCodecs()]);
    const { prefix, cleanup } = openTestRedis();
    redisCleanup = cleanup;
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }),
    });
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', ALLOW_UNAUTHENTICATED: 'true',
      DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
      RETRY_FIRST_DELAY_MS: '300', RETRY_MAX_DELAY_MS: '1000', RECONCILE_INTERVAL_MS: '0', SERIES_MAX_INSTANCES: '500',
    }, { logger, results: capture });
    api = `http://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop()]);
    await redisCleanup?.();
  });

  async function createImagingStudy(studyInstanceUid: string): Promise<string> {
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', address: `${orthanc.baseUrl}/studies/${studyInstanceUid}`,
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
      payloadType: [{ text: 'DICOM' }],
    });
    const patient = await fhir.repo.createResource({ resourceType: 'Patient', name: [{ family: 'ZQXPATIENT' }] });
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: `Patient/${patient.id}` },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyInstanceUid}` }],
      endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    });
    return study.id!;
  }

  // Medplum style: the raw resource. The worker re-reads it from FHIR, so the body carries only what a sender would.
  const notify = (id: string) =>
    fetch(`${api}/fhir/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', 'x-medplum-subscription': 'sub-1', 'x-medplum-interaction': 'update' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id, status: 'available', subject: { reference: 'Patient/unknown' } }),
    });

  async function waitForJob(jobId: string, states: string[]): Promise<RunView> {
    for (let i = 0; i < 600; i += 1) {
      const response = await fetch(`${api}/jobs/${jobId}`);
      if (response.status === 200) {
        const view = (await response.json()) as RunView;
        if (states.includes(view.state)) return view;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job did not reach ${states.join('/')}`);
  }

  async function tasksFor(imagingStudyId: string): Promise<Task[]> {
    const bundle = await fhir.repo.search<Task>({ resourceType: 'Task', filters: [{ code: 'focus', operator: 'eq' as never, value: `ImagingStudy/${imagingStudyId}` }] });
    return (bundle.entry ?? []).map((e) => e.resource!);
  }

  it('decodes every transfer syntax retrieved from Orthanc equal to the reference decoder, and completes the Task', async () => {
    const samples = SAMPLES.map((name) => ({ ...fixtures.samples[name], name }));
    await orthanc.upload(samples.map((s) => s.path));
    const jobs = new Map<string, { jobId: string; imagingStudyId: string }>();
    for (const sample of samples) {
      const id = await createImagingStudy(sample.studyInstanceUid);
      const response = await notify(id);
      expect(response.status).toBe(202);
      const body = (await response.json()) as { jobs: { jobId: string }[] };
      jobs.set(sample.studyInstanceUid, { jobId: body.jobs[0]!.jobId, imagingStudyId: id });
    }
    for (const sample of samples) {
      const { jobId, imagingStudyId } = jobs.get(sample.studyInstanceUid)!;
      const view = await waitForJob(jobId, ['completed', 'failed']);
      expect(view.state, `${sample.transferSyntaxUid}: ${view.errorCode}`).toBe('completed');
      // 12-bit JPEG has no local decoder: it must have been fetched again, transcoded by the server.
      const decodedSyntaxes = view.series[0]!.transferSyntaxes;
      expect(decodedSyntaxes).toEqual([sample.name === 'JPGExtended' ? '1.2.840.10008.1.2.1' : sample.transferSyntaxUid]);
      const [volume] = volumes.get(sample.studyInstanceUid) ?? [];
      expect(volume).toBeDefined();
      expect(volume!.rows).toBe(sample.rows);
      expect(volume!.columns).toBe(sample.columns);
      expect(volume!.depth).toBe(sample.frames);
      expect(volume!.samplesPerPixel).toBe(sample.samplesPerPixel);
      expectPixelsMatchReference(volume!, sample, codecs);
      const tasks = await tasksFor(imagingStudyId);
      expect(tasks).toHaveLength(1);
      expect(tasks[0]!.status).toBe('completed');
    }
  });

  it('assembles a 64-slice CT sorted along the normal with rescale applied, identical across transfer syntaxes', async () => {
    const ct = await fixtures.ctSeries(64);
    const variants = [ct.variants['explicit-le'], ct.variants['jpeg-ls-lossless'], ct.variants['rle']];
    const decoded: Volume[] = [];
    for (const variant of variants) {
      await orthanc.upload(variant.files);
      const id = await createImagingStudy(variant.studyInstanceUid);
      const response = await notify(id);
      const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
      const view = await waitForJob(jobs[0]!.jobId, ['completed', 'failed']);
      expect(view.state, String(view.errorCode)).toBe('completed');
      expect(view.series[0]!.frames).toBe(64);
      decoded.push(volumes.get(variant.studyInstanceUid)![0]!);
    }
    const [reference, ...others] = decoded;
    const z = reference!.slices.map((s) => s.imagePositionPatient![2]);
    expect(z).toEqual([...ct.positionsZ].sort((a, b) => a - b));
    expect(reference!.sliceThickness).toBe(ct.sliceThickness);
    expect(reference!.spacingBetweenSlices).toBeCloseTo(ct.spacingBetweenSlices, 6);
    expect(reference!.pixels.subarray(0, 512 * 512).reduce((a, b) => Math.min(a, b), 0)).toBeLessThan(-1000); // intercept applied
    for (const other of others) expect(Buffer.from(other.pixels.buffer).equals(Buffer.from(reference!.pixels.buffer))).toBe(true);
  });

  it('folds twenty concurrent duplicate notifications into one analyzed run and one Task', async () => {
    const sample = fixtures.samples.CT_small;
    await orthanc.upload([sample.path]);
    const id = await createImagingStudy(sample.studyInstanceUid);
    const responses = await Promise.all(Array.from({ length: 20 }, () => notify(id)));
    expect(responses.every((r) => r.status === 202)).toBe(true);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { jobs: { jobId: string; rerunScheduled: boolean }[] }[];
    // Each request folds into the study's waiting run, or into the one run that follows an active run.
    expect(new Set(bodies.flatMap((b) => b.jobs.map((j) => j.jobId))).size).toBeLessThan(20);
    const runs = await settledStudyRuns(api, sample.studyInstanceUid);
    expect(runs.every((r) => r.state === 'completed')).toBe(true);
    const published = runs.filter((r) => r.outcome === 'published');
    expect(published).toHaveLength(1);
    expect(published[0]!.attempts.filter((a) => a.stage === 'analyze')).toHaveLength(1);
    // Every later run found the same input: no analysis, no Task change.
    for (const other of runs.filter((r) => r !== published[0])) expect([other.outcome, other.resultsOf]).toEqual(['unchanged', published[0]!.id]);
    expect(await tasksFor(id)).toHaveLength(1);
  });

  it('retries while Orthanc is down and completes once it is back', async () => {
    const sample = fixtures.samples.MR_small_implicit;
    const id = await createImagingStudy(sample.studyInstanceUid);
    await orthanc.suspend();
    const response = await notify(id);
    const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
    for (let i = 0; i < 200; i += 1) {
      const view = (await (await fetch(`${api}/jobs/${jobs[0]!.jobId}`)).json()) as RunView;
      if (view.attempts.some((a) => a.outcome === 'failed')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await orthanc.resume();
    const view = await waitForJob(jobs[0]!.jobId, ['completed', 'failed']);
    expect(view.state).toBe('completed');
    expect(view.attempts[0]).toMatchObject({ outcome: 'failed', errorCode: 'DEPENDENCY_UNAVAILABLE', retryable: true });
    expect(view.attempts.at(-1)).toMatchObject({ outcome: 'completed' });
  });

  it('fails a study that does not exist at once, with a clear code and a failed Task', async () => {
    const id = await createImagingStudy('1.2.826.0.1.3680043.8.498.999999999');
    const response = await notify(id);
    const { jobs } = (await response.json()) as { jobs: { jobId: string }[] };
    const view = await waitForJob(jobs[0]!.jobId, ['failed']);
    expect(view.errorCode).toBe('STUDY_NOT_FOUND');
    expect(view.attempts).toHaveLength(1);
    const [task] = await tasksFor(id);
    expect(task?.status).toBe('failed');
    expect(JSON.stringify(task)).not.toContain('1.2.826.0.1.3680043.8.498.999999999');
  });

  it('keeps patient data out of the logs', () => {
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const value of Object.values(FIXTURE_PATIENT)) expect(logs).not.toContain(value);
    for (const name of SAMPLES) expect(logs).not.toContain(fixtures.samples[name].studyInstanceUid);
  });
});

/**
 * The volume holds modality values in spatial order; the reference holds stored values in frame order.
 * Map each slice back to its frame and apply that frame's rescale (read from the file itself).
 */
function expectPixelsMatchReference(volume: Volume, sample: SampleFixture, codecs: Codecs): void {
  const raw = readFileSync(sample.referencePath);
  const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const dtype = sample.referenceDtype;
  const reference = dtype === 'uint8' ? new Uint8Array(buffer) : dtype === 'int8' ? new Int8Array(buffer) : dtype === 'uint16' ? new Uint16Array(buffer) : new Int16Array(buffer);
  expect(volume.pixels.length).toBe(reference.length);
  const rescales = frameRescalesOf(sample, codecs);
  const frameSize = volume.rows * volume.columns * volume.samplesPerPixel;
  let worst = 0;
  volume.slices.forEach((slice, k) => {
    const frame = slice.frameNumber - 1;
    const { slope, intercept } = volume.samplesPerPixel === 3 ? { slope: 1, intercept: 0 } : rescales[frame]!;
    for (let i = 0; i < frameSize; i += 1) {
      const expected = reference[frame * frameSize + i]! * slope + intercept;
      worst = Math.max(worst, Math.abs(volume.pixels[k * frameSize + i]! - expected));
    }
  });
  expect(worst, sample.transferSyntaxUid).toBeLessThanOrEqual(sample.tolerance * Math.max(1, ...rescales.map((r) => Math.abs(r.slope))));
}

/** Each frame's rescale as the file states it (12-bit JPEG has no local decoder: read the top level then). */
function frameRescalesOf(sample: SampleFixture, codecs: Codecs): { slope: number; intercept: number }[] {
  const bytes = new Uint8Array(readFileSync(sample.path));
  try {
    return decodeInstance(bytes, codecs).frameRescales;
  } catch (error) {
    if (!(error instanceof TransferSyntaxUnsupportedError)) throw error;
    const { dataset } = readPart10(bytes);
    const rescale = { slope: dataset.number(0x00281053) ?? 1, intercept: dataset.number(0x00281052) ?? 0 };
    return Array.from({ length: sample.frames }, () => rescale);
  }
}
