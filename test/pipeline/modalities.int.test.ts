import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticReport, ImagingStudy, Resource } from '@medplum/fhirtypes';
import { createDicomwebClient } from '../../src/dicom/dicomweb/dicomweb-client.ts';
import { firstString, Tag } from '../../src/dicom/dicom-json.ts';
import { readPart10 } from '../../src/dicom/pixels/read-part10.ts';
import { readPart10 as readDicomJson } from '../../src/dicom/writers/dcmjs-io.ts';
import type { DicomJsonDataset } from '../../src/dicom/dicom-json.ts';
import { startService, type RunningService } from '../../src/main.ts';
import { DEFAULT_TASK_PROFILES, type TaskProfiles } from '../../src/pipeline/task-profiles/index.ts';
import type { RunView } from '../../src/queue/run-view.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ALLOWED_SC_WARNINGS, unexpectedWarnings } from '../dicom/writers/allowed-warnings.ts';
import { dciodvfy } from '../support/dciodvfy.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { ensureFixtures } from '../support/fixtures.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import type { ModalityStudies } from '../support/modality-studies.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { waitForRun } from '../support/service-probe.ts';

// Every modality of the UniMedVL paper through the real stack (Orthanc + DICOMweb, the Medplum FHIR engine,
// Redis + BullMQ, the tiny model) with the built-in task profiles: chest X-ray, CT, MR (the bundled sample
// study), ultrasound single frame + cine, whole-slide microscopy, fundus, OCT, endoscopy, and the XC / GM
// photographs. Only the costs are cut (8 report tokens, 2 flow steps). (The disabled H&E->IHC staining stays
// off: one generation at the chosen 1024x960 level takes minutes with the tiny model on a shared CPU.)

const SAMPLE_STUDY = 'samples/sample-study';

function cheapDefaults(): TaskProfiles {
  const profiles = structuredClone(DEFAULT_TASK_PROFILES) as TaskProfiles;
  for (const profile of profiles.profiles) {
    for (const task of profile.tasks) {
      if (task.kind === 'report') task.decode.maxNewTokens = 8;
      else task.guidance.steps = 2;
    }
  }
  return profiles;
}

describe('every modality of the paper yields a report through the real stack', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let proxy: FaultProxy;
  let service: RunningService;
  let redis: ReturnType<typeof openTestRedis>;
  let api: string;
  let work: string;
  let modalities: ModalityStudies;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'modalities-'));
    writeFileSync(join(work, 'profiles.json'), JSON.stringify(cheapDefaults()));
    [orthanc, fhir, modalities] = await Promise.all([startOrthanc(), startFhirServer(), ensureFixtures().then((f) => f.modalityStudies())]);
    proxy = await startFaultProxy(orthanc.restUrl);
    redis = openTestRedis();
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0',
      EXECUTION_PROVIDER: 'cpu', ALLOW_UNAUTHENTICATED: 'true', DICOMWEB_ALLOWED_ORIGINS: `${new URL(orthanc.baseUrl).origin},${new URL(proxy.baseUrl(orthanc.baseUrl)).origin}`,
      TASK_PROFILES_FILE: join(work, 'profiles.json'),
    }, { logger: createLogger({ level: 'error' }) });
    api = `http://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop(), proxy?.stop()]);
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Uploads a study, registers its ImagingStudy (Endpoint: Orthanc, or Orthanc behind the counting proxy) and notifies. */
  async function analyze(files: string[], studyUid: string, options: { viaProxy?: boolean } = {}) {
    await orthanc.upload(files);
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', payloadType: [{ text: 'DICOM' }],
      address: options.viaProxy ? proxy.baseUrl(orthanc.baseUrl) : orthanc.baseUrl,
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    });
    const response = await fetch(`${api}/fhir/notify/ImagingStudy/${study.id}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id: study.id, status: 'available' }),
    });
    expect(response.status).toBe(202);
    const jobId = ((await response.json()) as { jobs: { jobId: string }[] }).jobs[0]!.jobId;
    const run = await waitForRun(api, jobId);
    return { run, imagingStudyId: study.id! };
  }

  const all = async <T extends Resource>(resourceType: T['resourceType']): Promise<T[]> =>
    ((await fhir.repo.search<T>({ resourceType, count: 1000 })).entry ?? []).map((e) => e.resource!);

  /** The study's result series (modality and SOP class) after checking every result instance with dciodvfy. */
  async function validResults(studyUid: string, sourceModalities: string[]): Promise<string[]> {
    const client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
    try {
      const found: string[] = [];
      for (const s of await client.searchSeries(studyUid)) {
        const modality = firstString(s, Tag.Modality)!;
        if (sourceModalities.includes(modality) && !(firstString(s, Tag.SeriesDescription) ?? '').startsWith('AI-generated')) continue;
        for await (const part of client.retrieveSeries(studyUid, firstString(s, Tag.SeriesInstanceUID)!)) {
          const result = await dciodvfy(part.bytes);
          expect(result.errors, `${modality}: ${result.output}`).toEqual([]);
          expect(unexpectedWarnings(result.warnings, modality === 'SR' ? undefined : ALLOWED_SC_WARNINGS), modality).toEqual([]);
          found.push(modality);
        }
      }
      return found.sort();
    } finally {
      await client.close();
    }
  }

  /** SOP Instance UID -> the frame numbers the study's report SRs' content references (undefined: the whole image). */
  async function srReferences(studyUid: string): Promise<Map<string, (number | undefined)[]>> {
    const client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
    const found = new Map<string, (number | undefined)[]>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const dataset = node as DicomJsonDataset;
      const uid = dataset['00081155']?.Value?.[0];
      if (typeof uid === 'string') found.set(uid, [...(found.get(uid) ?? []), dataset['00081160']?.Value?.[0] as number | undefined]);
      Object.values(dataset).forEach((element) => walk((element as { Value?: unknown }).Value));
    };
    try {
      for (const s of await client.searchSeries(studyUid)) {
        if (firstString(s, Tag.Modality) !== 'SR') continue;
        for await (const part of client.retrieveSeries(studyUid, firstString(s, Tag.SeriesInstanceUID)!)) walk(readDicomJson(part.bytes).dataset['0040A730']?.Value);
      }
    } finally {
      await client.close();
    }
    return found;
  }

  async function expectPublishedReport(run: RunView, imagingStudyId: string): Promise<DiagnosticReport> {
    expect(run, JSON.stringify({ state: run.state, errorCode: run.errorCode, outcome: run.outcome })).toMatchObject({ state: 'completed', outcome: 'published' });
    const reports = (await all<DiagnosticReport>('DiagnosticReport')).filter((r) => r.imagingStudy?.[0]?.reference === `ImagingStudy/${imagingStudyId}`);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.status).toBe('preliminary');
    expect(reports[0]!.meta?.security?.some((c) => c.code === 'AIAST')).toBe(true);
    return reports[0]!;
  }

  it('chest X-ray, CT and MR (the sample study): reports, the CT lung SEG, all valid', async () => {
    const files = readdirSync(SAMPLE_STUDY).filter((f) => f.endsWith('.dcm')).map((f) => join(SAMPLE_STUDY, f));
    const studyUid = readPart10(readFileSync(files[0]!)).dataset.string(0x0020000d)!;
    const { run, imagingStudyId } = await analyze(files, studyUid);
    await expectPublishedReport(run, imagingStudyId);
    expect([...run.modalities].sort()).toEqual(['CT', 'DX', 'MR']);
    expect(await validResults(studyUid, ['CT', 'DX', 'MR'])).toEqual(['SEG', 'SR', 'SR', 'SR']);
  });

  it.each([
    ['ultrasound', 'US', 2],
    ['fundus', 'OP', 1],
    ['oct', 'OPT', 1],
    ['endoscopy', 'ES', 1],
    ['photograph', 'XC', 1],
    ['microscopy', 'GM', 1],
  ] as const)('%s (%s): a preliminary report and a valid SR per series', async (name, modality, seriesCount) => {
    const study = modalities.studies[name];
    const { run, imagingStudyId } = await analyze(study.files, study.studyInstanceUid);
    await expectPublishedReport(run, imagingStudyId);
    expect(run.modalities).toEqual([modality]);
    expect(run.series).toHaveLength(seriesCount);
    expect(await validResults(study.studyInstanceUid, [modality])).toEqual(Array.from({ length: seriesCount }, () => 'SR'));
    if (name === 'ultrasound') {
      // The frames the report read, as its SR references them: the B-mode image itself, cine frames 3, 9 and 14 of 16.
      const frames = await srReferences(study.studyInstanceUid);
      const ultrasound = modalities.studies.ultrasound;
      expect(frames.get(ultrasound.series.bmode.instances[0]!.sopInstanceUid)).toEqual([undefined]);
      expect(frames.get(ultrasound.series.cine.instances[0]!.sopInstanceUid)).toEqual([3, 9, 14]);
    }
    if (name === 'oct') {
      // The central B-scan: frame 6 of 11.
      expect((await srReferences(study.studyInstanceUid)).get(modalities.studies.oct.series.macula.instances[0]!.sopInstanceUid)).toEqual([6]);
    }
  });

  it('whole-slide microscopy: only the pyramid level nearest the model input is retrieved, its tiles assembled', async () => {
    const study = modalities.studies.wholeSlide;
    const slide = study.series.slide;
    const chosen = slide.instances.find((i) => i.totalPixelMatrixColumns === 1024 && i.imageType?.[2] === 'VOLUME')!;
    const before = proxy.forwarded().length;
    const { run, imagingStudyId } = await analyze(study.files, study.studyInstanceUid, { viaProxy: true });
    await expectPublishedReport(run, imagingStudyId);
    expect(run.series).toEqual([expect.objectContaining({
      modality: 'SM', instances: 1, frames: 1, columns: 1024, rows: 960, pyramidLevel: { level: 1, levels: 4, tiles: 16 },
      bytes: statSync(chosen.path).size,
    })]);
    // What crossed the wire: the metadata, then the chosen level and nothing of any other instance.
    const requests = proxy.forwarded().slice(before).filter((r) => r.method === 'GET');
    const instanceRetrievals = requests.filter((r) => /\/instances\/[^/]+$/.test(r.url.split('?')[0]!));
    expect(instanceRetrievals.map((r) => r.url.split('?')[0]!.split('/').pop())).toEqual([chosen.sopInstanceUid]);
    expect(requests.filter((r) => /\/series\/[^/]+$/.test(r.url.split('?')[0]!))).toEqual([]);
    const others = slide.instances.filter((i) => i !== chosen);
    expect(requests.filter((r) => others.some((o) => r.url.includes(o.sopInstanceUid)))).toEqual([]);
    const fullResolution = slide.instances.find((i) => i.totalPixelMatrixColumns === 2048)!;
    const pixelBytes = requests.filter((r) => !r.url.includes('/metadata')).reduce((n, r) => n + r.bytes, 0);
    expect(pixelBytes).toBeLessThan(statSync(fullResolution.path).size);
    expect(await validResults(study.studyInstanceUid, ['SM'])).toEqual(['SR']);
  });
});
