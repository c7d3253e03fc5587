import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticReport, DocumentReference, ImagingStudy, Provenance, Resource } from '@medplum/fhirtypes';
import { decodeInstance, loadCodecs } from '../../src/dicom/pixels/index.ts';
import { assembleVolume } from '../../src/dicom/volume/assemble-volume.ts';
import { DEFAULT_MODEL_DIR, startService, type RunningService } from '../../src/main.ts';
import { createEngine } from '../../src/model/index.ts';
import { reportSectionText } from '../../src/pipeline/assemble-results.ts';
import { cleanModelText } from '../../src/pipeline/clean-model-text.ts';
import { sliceToModelImage } from '../../src/pipeline/model-io/model-input-image.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ensureFixtures } from '../support/fixtures.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import type { ModalityStudies } from '../support/modality-studies.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { waitForRun } from '../support/service-probe.ts';

// Task-profile option `priors`: the key image of the patient's most recent earlier MR (found by QIDO-RS on
// PatientID; an even older MR must not be picked) goes before the current images, and the prompt (kept in the
// Provenance) says so. Fixture: brain MR T2 of 2024-03-18, priors of 2023-03-20 (T2 + FLAIR) and 2021-06-02 (T2).

const PROMPT = 'Describe the brain MRI and any change since the prior study.';
const PROFILES = `
version: 1
profiles:
  - name: mr-t2-compare
    match: { modality: [MR], seriesDescription: '^(?!.*flair).*t2' }
    tasks:
      - { id: mr-compare, kind: report, prompt: "${PROMPT}", slices: { mode: middle }, decode: { maxNewTokens: 10 }, priors: { count: 1, sameModality: true } }
`;

describe('comparison with a prior study', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let service: RunningService;
  let redis: ReturnType<typeof openTestRedis>;
  let api: string;
  let work: string;
  let fixtures: ModalityStudies;
  let imagingStudyId: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'priors-'));
    writeFileSync(join(work, 'profiles.yaml'), PROFILES);
    [orthanc, fhir, fixtures] = await Promise.all([startOrthanc(), startFhirServer(), ensureFixtures().then((f) => f.modalityStudies())]);
    const { brainMr, brainMrPrior, brainMrOlder } = fixtures.studies;
    await orthanc.upload([...brainMrOlder.files, ...brainMrPrior.files, ...brainMr.files]);
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', payloadType: [{ text: 'DICOM' }], address: orthanc.baseUrl,
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    imagingStudyId = (await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${brainMr.studyInstanceUid}` }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    })).id!;
    redis = openTestRedis();
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0',
      EXECUTION_PROVIDER: 'cpu', ALLOW_UNAUTHENTICATED: 'true', DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
      TASK_PROFILES_FILE: join(work, 'profiles.yaml'), ASK_TASK_POLL_INTERVAL_MS: '0',
    }, { logger: createLogger({ level: 'error' }) });
    api = `http://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop()]);
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const all = async <T extends Resource>(resourceType: T['resourceType']): Promise<T[]> =>
    ((await fhir.repo.search<T>({ resourceType, count: 1000 })).entry ?? []).map((e) => e.resource!);

  it("puts the most recent prior's key image before the current one and states it in the Provenance", async () => {
    const response = await fetch(`${api}/fhir/notify/ImagingStudy/${imagingStudyId}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id: imagingStudyId, status: 'available' }),
    });
    const jobId = ((await response.json()) as { jobs: { jobId: string }[] }).jobs[0]!.jobId;
    const run = await waitForRun(api, jobId);
    expect(run, JSON.stringify([run.state, run.errorCode])).toMatchObject({ state: 'completed', outcome: 'published' });
    expect(run.stages.length).toBeGreaterThan(0);

    const statement = "The first image is from the patient's prior study of 2023-03-20, for comparison; the following images are from the current study.";
    const provenance = (await all<Provenance>('Provenance')).find((p) => p.entity?.some((e) => e.what.reference === `ImagingStudy/${imagingStudyId}`));
    const prompt = provenance?.contained?.find((c): c is DocumentReference => c.resourceType === 'DocumentReference');
    expect(Buffer.from(prompt!.content[0]!.attachment.data!, 'base64').toString('utf8')).toBe(`${statement}\n${PROMPT}`);

    // The report is what the model says for [prior T2 key image, current T2 middle slice] with that prompt.
    const codecs = await loadCodecs();
    const volumeOf = (paths: string[]) => assembleVolume(paths.map((p) => decodeInstance(new Uint8Array(readFileSync(p)), codecs)));
    const prior = volumeOf(fixtures.studies.brainMrPrior.series.t2.instances.map((i) => i.path));
    const current = volumeOf(fixtures.studies.brainMr.series.t2.instances.map((i) => i.path));
    const engine = await createEngine({ modelDir: DEFAULT_MODEL_DIR, provider: 'cpu' });
    const images = [sliceToModelImage(prior, Math.floor(prior.depth / 2)), sliceToModelImage(current, Math.floor(current.depth / 2))];
    // At 10 decoder calls the tiny model is cut by the limit, which the report says (reportSectionText).
    const answer = await engine.understand({ images, prompt: `${statement}\n${PROMPT}`, maxNewTokens: 10 });
    const expected = reportSectionText([{ text: cleanModelText(answer.text), cutByTokenLimit: answer.finishReason === 'length' }]);
    const withoutPrior = cleanModelText((await engine.understand({ images: images.slice(1), prompt: PROMPT, maxNewTokens: 10 })).text);
    await engine.close();
    const reports = (await all<DiagnosticReport>('DiagnosticReport')).filter((r) => r.imagingStudy?.[0]?.reference === `ImagingStudy/${imagingStudyId}`);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.conclusion).toBe(expected);
    // Not the same as without the prior (so the comparison images did reach the model).
    expect(expected).not.toBe(withoutPrior);
  });
});
