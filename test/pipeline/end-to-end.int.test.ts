import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Device, DiagnosticReport, ImagingStudy, Observation, Provenance, Resource, Task } from '@medplum/fhirtypes';
import { createDicomwebClient } from '../../src/dicom/dicomweb/dicomweb-client.ts';
import { firstString, Tag } from '../../src/dicom/dicom-json.ts';
import { decodeInstance, loadCodecs } from '../../src/dicom/pixels/index.ts';
import { assembleVolume } from '../../src/dicom/volume/assemble-volume.ts';
import { AUDIT_INTERACTIONS, RECOVERY_ONLY, SERVICE_INTERACTIONS } from '../../src/fhir/fhir-interactions.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { startService, DEFAULT_MODEL_DIR, type RunningService } from '../../src/main.ts';
import { createEngine } from '../../src/model/index.ts';
import { CUT_BY_TOKEN_LIMIT_NOTICE } from '../../src/pipeline/assemble-results.ts';
import { cleanModelText } from '../../src/pipeline/clean-model-text.ts';
import { sliceToModelImage } from '../../src/pipeline/model-io/model-input-image.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { dciodvfy } from '../support/dciodvfy.ts';
import { FIXTURE_PATIENT } from '../support/fixtures.ts';
import { isAuditBatch, startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { randomDicomUid } from '../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { settledStudyRuns, waitForRun } from '../support/service-probe.ts';
import { unexpectedWarnings, ALLOWED_DCENTVFY_WARNINGS, ALLOWED_SC_WARNINGS } from '../dicom/writers/allowed-warnings.ts';
import { dcentvfy } from '../support/dcentvfy.ts';
import { startTokenServer, type TokenServer } from '../fhir/auth/smart-token-server.ts';

// The whole flow with every party real: a notification about an ImagingStudy ends with a preliminary
// DiagnosticReport, Observations, Provenance and a model Device in FHIR, and SEG / derived image / SR
// series in the source study in Orthanc. Small task settings keep the tiny model fast. The service signs in
// with SMART Backend Services and its default scopes, and the FHIR server enforces scopes per resource
// type (and StructureDefinition read for profiled writes) as Medplum does.

const REPORT_PROMPT = 'Generate a concise radiology report with findings and impression for this CT.';
const PROFILES = `
version: 1
profiles:
  - name: e2e-ct
    match: { modality: [CT] }
    tasks:
      - { id: ct-report, kind: report, prompt: "${REPORT_PROMPT}", slices: { mode: middle }, decode: { maxNewTokens: 24 } }
      - id: ct-lungs
        kind: segmentation
        prompt: Please help me segment the lungs.
        slices: { mode: all, max: 5 }
        guidance: { steps: 4 }
        structure:
          label: Lungs
          category: { value: '123037004', meaning: Anatomical Structure }
          type: { value: '39607008', meaning: Lung }
          colour: [80, 160, 255]
      - { id: ct-denoise, kind: translation, prompt: Denoise this CT slice., slices: { mode: middle }, guidance: { steps: 4 }, outputLabel: Synthetic denoised CT }
`;

describe('end to end: notification to FHIR report and DICOM results', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let tokens: TokenServer;
  const smartKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let service: RunningService;
  let redisCleanup: () => Promise<void>;
  let prefix: string;
  let work: string;
  let api: string;
  let imagingStudyId: string;
  let studyUid: string;
  let expectedConclusion: string;
  /** One instance of the series, uploaded later: the study changes. */
  let heldBack: string;
  const logLines: string[] = [];
  const env = () => ({
    PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', ALLOW_UNAUTHENTICATED: 'true',
    RETRY_FIRST_DELAY_MS: '200', RETRY_MAX_DELAY_MS: '400', RECONCILE_INTERVAL_MS: '0', EXECUTION_PROVIDER: 'cpu',
    TASK_PROFILES_FILE: join(work, 'profiles.yaml'), DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
    FHIR_SMART_TOKEN_URL: tokens.tokenUrl, FHIR_SMART_CLIENT_ID: 'unimedvl', FHIR_SMART_PRIVATE_KEY_FILE: join(work, 'smart-key.pem'),
    FHIR_PERFORMER_REFERENCE: 'Organization/radiology-ai', FHIR_PERFORMER_NAME: 'Radiology AI service',
  });
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }),
  });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'e2e-'));
    writeFileSync(join(work, 'profiles.yaml'), PROFILES);
    writeFileSync(join(work, 'smart-key.pem'), smartKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    tokens = await startTokenServer({ clientId: 'unimedvl', publicKey: smartKeys.publicKey, algorithm: 'RS384' });
    // The bundled sample CT, re-identified as the fixture patient with fresh UIDs for this run.
    studyUid = randomDicomUid();
    const seriesUid = randomDicomUid();
    const files: string[] = [];
    for (const name of readdirSync('samples/sample-study').filter((n) => n.startsWith('ct-'))) {
      const path = join(work, name);
      cpSync(join('samples/sample-study', name), path);
      execFileSync('dcmodify', ['-nb', '-gin', '-m', `(0020,000d)=${studyUid}`, '-m', `(0020,000e)=${seriesUid}`,
        '-m', `(0010,0010)=${FIXTURE_PATIENT.name}`, '-m', `(0010,0020)=${FIXTURE_PATIENT.id}`,
        '-m', `(0010,0030)=${FIXTURE_PATIENT.birthDate}`, '-m', `(0008,0050)=${FIXTURE_PATIENT.accessionNumber}`,
        '-i', '(0010,1030)=0.000000', path]);
      files.push(path);
    }
    [orthanc, fhir] = await Promise.all([startOrthanc(), startFhirServer({ scopesOf: (header) => tokens.scopesOf(header) })]);
    files.sort();
    heldBack = files.pop()!;
    await orthanc.upload(files);

    // What the engine says for the middle slice, computed independently of the service.
    const codecs = await loadCodecs();
    const volume = assembleVolume(files.map((f) => decodeInstance(new Uint8Array(readFileSync(f)), codecs)));
    const engine = await createEngine({ modelDir: DEFAULT_MODEL_DIR, provider: 'cpu' });
    const middle = Math.floor(volume.depth / 2);
    const direct = await engine.understand({ images: [sliceToModelImage(volume, middle)], prompt: REPORT_PROMPT, maxNewTokens: 24 });
    // a report the token limit cut says so (models/README.md, "Token limit")
    expectedConclusion = cleanModelText(direct.text) + (direct.finishReason === 'length' ? `\n${CUT_BY_TOKEN_LIMIT_NOTICE}` : '');
    await engine.close();

    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', address: orthanc.baseUrl, payloadType: [{ text: 'DICOM' }],
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    const patient = await fhir.repo.createResource({ resourceType: 'Patient', name: [{ family: 'ZQXPATIENT', given: ['ALPHA'] }] });
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: `Patient/${patient.id}` }, started: '2026-11-30T08:15:00Z',
      basedOn: [{ reference: 'ServiceRequest/order-1' }], encounter: { reference: 'Encounter/visit-1' },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    });
    imagingStudyId = study.id!;

    const redis = openTestRedis();
    prefix = redis.prefix;
    redisCleanup = redis.cleanup;
    service = await startService('serve', env(), { logger });
    api = `http://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop(), tokens?.stop()]);
    await redisCleanup?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const notify = (base = api) =>
    fetch(`${base}/fhir/notify/ImagingStudy/${imagingStudyId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id: imagingStudyId, status: 'available', subject: { reference: 'Patient/x' } }),
    });

  const jobIdOf = async (response: Response) => ((await response.json()) as { jobs: { jobId: string }[] }).jobs[0]!.jobId;

  const all = async <T extends Resource>(resourceType: T['resourceType']): Promise<T[]> =>
    ((await fhir.repo.search<T>({ resourceType })).entry ?? []).map((e) => e.resource!);

  async function resultSeries() {
    const client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
    const series = await client.searchSeries(studyUid);
    await client.close();
    return series.map((s) => ({ uid: firstString(s, Tag.SeriesInstanceUID)!, modality: firstString(s, Tag.Modality)! }));
  }

  it('writes one preliminary, AI-labelled report with observations, device, provenance and a completed Task', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, () => notify()));
    expect(responses.every((r) => r.status === 202)).toBe(true);
    const jobIds = new Set((await Promise.all(responses.map((r) => r.json() as Promise<{ jobs: { jobId: string }[] }>))).flatMap((b) => b.jobs.map((j) => j.jobId)));
    expect(jobIds.size).toBeLessThan(20);
    // Settled: every run of the study ended; one analyzed and published, any other found it unchanged.
    const runs = await settledStudyRuns(api, studyUid);
    const published = runs.filter((r) => r.outcome === 'published');
    expect(published, JSON.stringify(runs.map((r) => [r.state, r.errorCode]))).toHaveLength(1);
    expect(runs.filter((r) => r.outcome !== 'published').every((r) => r.outcome === 'unchanged' && r.resultsOf === published[0]!.id)).toBe(true);
    const view = published[0]!;
    expect(view.results?.diagnosticReport).toMatch(/^DiagnosticReport\//);
    expect(view.attempts.filter((a) => (a.engineCalls ?? 0) > 0)).toHaveLength(1);

    const [reports, observations, devices, provenances, tasks] = await Promise.all([
      all<DiagnosticReport>('DiagnosticReport'), all<Observation>('Observation'), all<Device>('Device'), all<Provenance>('Provenance'), all<Task>('Task'),
    ]);
    expect(reports).toHaveLength(1);
    const report = reports[0]!;
    expect(report.status).toBe('preliminary');
    expect(report.meta?.security?.some((c) => c.code === 'AIAST')).toBe(true);
    expect(report.conclusion).toBe(expectedConclusion);
    expect(report.imagingStudy?.[0]?.reference).toBe(`ImagingStudy/${imagingStudyId}`);
    // US Core: the study's time, orders and encounter carried over; both radiology categories.
    expect(report.effectiveDateTime).toBe('2026-11-30T08:15:00Z');
    expect(report.basedOn).toEqual([{ reference: 'ServiceRequest/order-1' }]);
    expect(report.encounter).toEqual({ reference: 'Encounter/visit-1' });
    expect(report.performer).toEqual([{ reference: 'Organization/radiology-ai', display: 'Radiology AI service' }]);
    expect(report.resultsInterpreter).toBeUndefined();
    expect(report.category?.flatMap((c) => c.coding ?? []).map((c) => c.code)).toEqual(['RAD', 'LP29684-5']);
    expect(observations).toHaveLength(1);
    expect(observations[0]!.status).toBe('preliminary');
    expect(observations[0]!.valueQuantity?.unit ?? observations[0]!.valueQuantity?.code).toMatch(/mm3|mm2/);
    expect(observations[0]!.effectiveDateTime).toBe('2026-11-30T08:15:00Z');
    expect(observations[0]!.code.coding?.some((c) => c.system === 'http://snomed.info/sct' && ['118565006', '42798000'].includes(c.code!))).toBe(true);
    expect(report.result?.map((r) => r.reference)).toEqual([`Observation/${observations[0]!.id}`]);
    expect(devices).toHaveLength(1);
    expect(JSON.stringify(devices[0])).toMatch(/research use/i);
    expect(provenances).toHaveLength(1);
    expect(provenances[0]!.agent[0]!.who?.reference).toBe(`Device/${devices[0]!.id}`);
    expect(provenances[0]!.target.map((t) => t.reference)).toContain(`DiagnosticReport/${report.id}`);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]!.status).toBe('completed');
    expect(JSON.stringify(tasks[0]!.output)).toContain(`DiagnosticReport/${report.id}`);

    const validator = createResourceValidator();
    for (const resource of [report, ...observations, ...devices, ...provenances, ...tasks]) expect(() => validator.assertValid(resource)).not.toThrow();
  });

  it('stores SEG, derived image and SR as new series of the source study, each valid DICOM', async () => {
    const series = await resultSeries();
    const modalities = series.map((s) => s.modality).sort();
    expect(modalities).toEqual(['CT', 'OT', 'SEG', 'SR']);
    const client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
    const files: string[] = [];
    for (const s of series) {
      for await (const part of client.retrieveSeries(studyUid, s.uid)) {
        const path = join(work, `stored-${files.length}.dcm`);
        writeFileSync(path, part.bytes);
        files.push(path);
        if (s.modality === 'CT') continue;
        const result = await dciodvfy(part.bytes);
        expect(result.errors, s.modality).toEqual([]);
        expect(unexpectedWarnings(result.warnings, s.modality === 'OT' ? ALLOWED_SC_WARNINGS : undefined), s.modality).toEqual([]);
      }
    }
    await client.close();
    // Source and results form one consistent study: PatientWeight keeps its stored `0.000000` through WADO-RS JSON.
    const entities = await dcentvfy(files);
    expect(entities.errors, entities.output).toEqual([]);
    expect(unexpectedWarnings(entities.warnings, ALLOWED_DCENTVFY_WARNINGS), entities.output).toEqual([]);
  });

  it('when the study changed, analyzes it once more and, after a 503 on the FHIR write, publishes again without the model: one of each', async () => {
    await orthanc.upload([heldBack]);
    // Only a run that publishes sends a transaction, so no other run can take this failure (audit batches go on).
    fhir.failNext(503, 1, (r) => r.method === 'POST' && r.url === '' && !isAuditBatch(r.body));
    const run = await waitForRun(api, await jobIdOf(await notify()));
    expect(run.state, String(run.errorCode)).toBe('completed');
    expect(run.outcome).toBe('published');
    expect(run.attempts.map((a) => [a.stage, a.outcome, a.errorCode ?? null])).toEqual([
      ['analyze', 'completed', null], ['publish', 'failed', 'UPSTREAM_HTTP_ERROR'], ['publish', 'completed', null],
    ]);
    // The model ran in the analysis only; the publish retry took no model time.
    expect(run.attempts[0]!.engineCalls).toBeGreaterThan(0);
    expect(run.attempts.slice(1).every((a) => a.engineCalls === undefined && a.timingsMs?.model === undefined)).toBe(true);
    // Conditional updates keyed by the job key: the draft is replaced in place, nothing is written twice.
    for (const type of ['DiagnosticReport', 'Observation', 'Device', 'Provenance', 'Task'] as const) expect(await all(type), type).toHaveLength(1);
    expect((await resultSeries()).length).toBe(4);
    const [task] = await all<Task>('Task');
    expect(task!.status).toBe('completed');
  });

  it('writes a second set, keyed by the new version, when the model version changes', async () => {
    const bundle = join(work, 'bundle-v2');
    cpSync(DEFAULT_MODEL_DIR, bundle, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as { version: string };
    writeFileSync(join(bundle, 'manifest.json'), JSON.stringify({ ...manifest, version: '0.2.0' }));
    await service.stop();
    service = await startService('serve', { ...env(), MODEL_DIR: bundle }, { logger });
    api = `http://127.0.0.1:${service.port}`;
    const view = await waitForRun(api, await jobIdOf(await notify()));
    expect(view.state, String(view.errorCode)).toBe('completed');
    expect(view.outcome).toBe('published');
    expect(await all('DiagnosticReport')).toHaveLength(2);
    expect(await all('Device')).toHaveLength(2);
    expect(await all('Task')).toHaveLength(2);
    expect((await resultSeries()).length).toBe(7);
  });

  it('made only interactions its table lists (so the default scopes cover them), and all of them but recovery', async () => {
    // An empty-body notification asks for a reconciliation: the ImagingStudy search.
    expect((await fetch(`${api}/fhir/notify`, { method: 'POST' })).status).toBe(202);
    await vi.waitFor(() => expect(fhir.requests.some((r) => r.method === 'GET' && r.url.startsWith('ImagingStudy?'))).toBe(true), { timeout: 60_000, interval: 100 });
    expect(fhir.requests.filter((r) => r.status === 401 || r.status === 403)).toEqual([]);
    // Auditing is on (AUDIT_SINK defaults to fhir with FHIR_URL): its AuditEvent creates are in the scopes too.
    const table = new Set(Object.entries({ ...SERVICE_INTERACTIONS, ...AUDIT_INTERACTIONS }).flatMap(([type, use]) => use.interactions.map((i) => `${type}:${i}`)));
    const made = new Set(fhir.requests.flatMap((r) => r.access.map((a) => `${a.type}:${a.interaction}`)));
    expect([...made].filter((x) => !table.has(x)), 'made but not in the table').toEqual([]);
    // This study has no key images (Media) and nothing failed (deletes): everything else was used.
    const unused = [...table].filter((x) => !made.has(x) && !x.startsWith('Media:') && !RECOVERY_ONLY.some(([t, i]) => x === `${t}:${i}`));
    expect(unused, 'in the table but never made').toEqual([]);
  });

  it('keeps patient data and generated text out of the logs', () => {
    const logs = logLines.join('');
    expect(logs).toContain('run completed');
    for (const value of Object.values(FIXTURE_PATIENT)) expect(logs).not.toContain(value);
    expect(logs).not.toContain('ZQXPATIENT');
    expect(logs).not.toContain(studyUid);
    // The tiny model's text is short and random, yet it is what the service wrote: it must not be logged.
    expect(expectedConclusion.length).toBeGreaterThan(0);
    expect(logs).not.toContain(JSON.stringify(expectedConclusion).slice(1, -1));
    expect(logs).not.toContain(REPORT_PROMPT);
  });
});
