import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, ImagingStudy } from '@medplum/fhirtypes';
import { AUDIT_FAILING_WARNING, AUDIT_METRIC_NAMES } from '../../src/audit/audit-recorder.ts';
import { RUN_ID_SYSTEM } from '../../src/audit/build-audit-event.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { startService, type RunningService } from '../../src/main.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { FIXTURE_PATIENT } from '../support/fixtures.ts';
import { isAuditBatch, startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { randomDicomUid } from '../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { waitForRun, waitUntil } from '../support/service-probe.ts';

// One run of the whole service, every party real, with auditing on: each access the run makes to patient
// data (ImagingStudy read, QIDO-RS, WADO-RS, STOW-RS, the FHIR transaction) is an IHE BALP-shaped AuditEvent
// that validates against base R4; the file sink writes the same events as JSON lines; an audit outage
// neither blocks a run nor loses its events. Small task settings keep the tiny model fast.

const PROFILES = `
version: 1
profiles:
  - name: audit-ct
    match: { modality: [CT] }
    tasks:
      - { id: ct-report, kind: report, prompt: Describe this CT., slices: { mode: middle }, decode: { maxNewTokens: 8 } }
      - id: ct-lungs
        kind: segmentation
        prompt: Please help me segment the lungs.
        slices: { mode: all, max: 2 }
        guidance: { steps: 2 }
        structure:
          label: Lungs
          category: { value: '123037004', meaning: Anatomical Structure }
          type: { value: '39607008', meaning: Lung }
          colour: [80, 160, 255]
`;
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const SOURCE_ID = 'unimedvl-plugin@audit-test';

/** What the run's events say, one line per access, to compare sinks and to assert on. */
const kindOf = (e: AuditEvent) => `${e.type.system === DCM ? 'dicom' : e.type.code}:${e.subtype?.[0]?.display ?? ''}:${e.outcome}`;
const runIdOf = (e: AuditEvent) => e.entity?.find((x) => x.what?.identifier?.system === RUN_ID_SYSTEM)?.what?.identifier?.value;
const references = (e: AuditEvent) => (e.entity ?? []).map((x) => x.what?.reference).filter(Boolean);
const studyUidOf = (e: AuditEvent) => e.entity?.find((x) => x.what?.identifier?.system === 'urn:dicom:uid')?.what?.identifier?.value;

describe('audit of a run: AuditEvents for every access to patient data', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let service: RunningService | undefined;
  const redisCleanups: (() => Promise<void>)[] = [];
  let work: string;
  let api: string;
  let imagingStudyId: string;
  let patientId: string;
  let studyUid: string;
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }),
  });
  const validator = createResourceValidator();

  const start = async (extra: Record<string, string>) => {
    const redis = openTestRedis();
    redisCleanups.push(redis.cleanup);
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', ALLOW_UNAUTHENTICATED: 'true',
      RETRY_FIRST_DELAY_MS: '200', RETRY_MAX_DELAY_MS: '400', RECONCILE_INTERVAL_MS: '0', EXECUTION_PROVIDER: 'cpu',
      TASK_PROFILES_FILE: join(work, 'profiles.yaml'), DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
      AUDIT_FLUSH_INTERVAL_S: '1', AUDIT_BATCH_SIZE: '5', AUDIT_SOURCE_ID: SOURCE_ID, ...extra,
    }, { logger });
    api = `http://127.0.0.1:${service.port}`;
  };

  const runOnce = async () => {
    const response = await fetch(`${api}/fhir/notify/ImagingStudy/${imagingStudyId}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'ImagingStudy', id: imagingStudyId, status: 'available' }),
    });
    expect(response.status).toBe(202);
    const jobId = ((await response.json()) as { jobs: { jobId: string }[] }).jobs[0]!.jobId;
    return waitForRun(api, jobId);
  };

  const storedEvents = async (runId: string) =>
    ((await fhir.repo.search<AuditEvent>({ resourceType: 'AuditEvent', count: 1000 })).entry ?? [])
      .map((e) => e.resource!).filter((e) => runIdOf(e) === runId);

  const metric = async (name: string) => {
    const text = await (await fetch(`${api}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[2]), 0);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'audit-run-'));
    writeFileSync(join(work, 'profiles.yaml'), PROFILES);
    // The bundled sample CT, re-identified as the fixture patient with fresh UIDs.
    studyUid = randomDicomUid();
    const seriesUid = randomDicomUid();
    const files: string[] = [];
    for (const name of readdirSync('samples/sample-study').filter((n) => n.startsWith('ct-'))) {
      const path = join(work, name);
      cpSync(join('samples/sample-study', name), path);
      execFileSync('dcmodify', ['-nb', '-gin', '-m', `(0020,000d)=${studyUid}`, '-m', `(0020,000e)=${seriesUid}`,
        '-m', `(0010,0010)=${FIXTURE_PATIENT.name}`, '-m', `(0010,0020)=${FIXTURE_PATIENT.id}`,
        '-m', `(0010,0030)=${FIXTURE_PATIENT.birthDate}`, '-m', `(0008,0050)=${FIXTURE_PATIENT.accessionNumber}`, path]);
      files.push(path);
    }
    [orthanc, fhir] = await Promise.all([startOrthanc(), startFhirServer()]);
    await orthanc.upload(files);
    const endpoint = await fhir.repo.createResource({
      resourceType: 'Endpoint', status: 'active', address: orthanc.baseUrl, payloadType: [{ text: 'DICOM' }],
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    });
    const patient = await fhir.repo.createResource({ resourceType: 'Patient', name: [{ family: 'ZQXPATIENT', given: ['ALPHA'] }] });
    patientId = patient.id!;
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: `Patient/${patientId}` },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }], endpoint: [{ reference: `Endpoint/${endpoint.id}` }],
    });
    imagingStudyId = study.id!;
    await start({ AUDIT_SINK: 'fhir' });
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop()]);
    for (const cleanup of redisCleanups) await cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  let fhirSinkKinds: string[] = [];

  it('writes a valid, BALP-shaped AuditEvent for the study read, QIDO, WADO, STOW and the FHIR transaction, failures included', async () => {
    // One refused clinical transaction (not an audit batch): its access is audited as a failure, the retry as a success.
    fhir.failNext(503, 1, (r) => r.method === 'POST' && r.url === '' && !isAuditBatch(r.body));
    const run = await runOnce();
    expect(run.state, String(run.errorCode)).toBe('completed');
    expect(run.outcome).toBe('published');
    await waitUntil(() => storedEvents(run.id), (list) => list.some((e) => kindOf(e) === 'rest:transaction:0') && list.some((e) => e.type.code === '110106'), 'audit events of the run');
    // Delivered in the order of the accesses; the last write of the run may still be on its way.
    await waitUntil(() => metric(AUDIT_METRIC_NAMES.pending), (n) => n === 0, 'audit buffer drained');
    const all = await storedEvents(run.id);
    for (const event of all) expect(validator.check(event), kindOf(event)).toEqual([]);

    const one = (predicate: (e: AuditEvent) => boolean, what: string) => {
      const found = all.find(predicate);
      expect(found, `${what} in ${JSON.stringify(all.map(kindOf))}`).toBeDefined();
      return found!;
    };
    const read = one((e) => kindOf(e) === 'rest:read:0' && references(e).includes(`ImagingStudy/${imagingStudyId}`), 'ImagingStudy read');
    expect(read).toMatchObject({ type: { code: 'rest' }, subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }], action: 'R' });
    const qido = one((e) => e.type.code === '110112' && e.subtype?.[0]?.display === 'QIDO-RS', 'QIDO-RS search');
    expect(qido.action).toBe('E');
    const wado = one((e) => e.type.code === '110107' && e.subtype?.[0]?.display === 'WADO-RS', 'WADO-RS retrieve');
    expect(wado.action).toBe('C');
    const stow = one((e) => e.type.code === '110106' && e.subtype?.[0]?.display === 'STOW-RS' && e.outcome === '0', 'STOW-RS store');
    expect(stow.action).toBe('R');
    const written = one((e) => kindOf(e) === 'rest:transaction:0', 'FHIR transaction');
    expect(written.action).toBe('E');
    expect(references(written).some((r) => r!.startsWith('DiagnosticReport/'))).toBe(true);
    const refused = one((e) => kindOf(e) === 'rest:transaction:4', 'the refused transaction');
    expect(refused.outcomeDesc).toBe('UPSTREAM_HTTP_ERROR');

    for (const event of [read, qido, wado, stow, written]) {
      // The service asked (requestor), the server it asked is the other agent; the service observed.
      const requestors = event.agent.filter((a) => a.requestor);
      expect(requestors, kindOf(event)).toHaveLength(1);
      expect(requestors[0]!.who?.identifier?.value).toBe(SOURCE_ID);
      expect(event.agent.some((a) => !a.requestor && a.network?.address)).toBe(true);
      expect(event.source.observer.identifier?.value).toBe(SOURCE_ID);
      // Patient (role 1) and study on every access, even a DICOM one that named only the study UID.
      expect(event.entity, kindOf(event)).toContainEqual(expect.objectContaining({ what: { reference: `Patient/${patientId}` }, role: expect.objectContaining({ code: '1' }) }));
      expect(studyUidOf(event), kindOf(event)).toBe(`urn:oid:${studyUid}`);
    }
    const pacs = new URL(orthanc.baseUrl).origin;
    for (const event of [qido, wado, stow]) expect(event.agent.find((a) => a.network)?.network?.address).toBe(pacs);
    fhirSinkKinds = [...new Set(all.filter((e) => e.outcome === '0').map(kindOf))].sort();
  });

  it('keeps a run going while the audit server refuses, counts the failures, and delivers later', async () => {
    fhir.failWhile(503, (r) => r.method === 'POST' && r.url === '' && isAuditBatch(r.body));
    const failuresBefore = await metric(AUDIT_METRIC_NAMES.failures);
    // The study is unchanged: this run reads it again (ImagingStudy, QIDO, metadata) and ends without the model.
    const run = await runOnce();
    expect(run.state, String(run.errorCode)).toBe('completed');
    expect(run.outcome).toBe('unchanged');
    await waitUntil(() => metric(AUDIT_METRIC_NAMES.failures), (n) => n > failuresBefore, 'an audit delivery failure counted');
    expect(await metric(AUDIT_METRIC_NAMES.pending)).toBeGreaterThan(0);
    expect(await storedEvents(run.id)).toEqual([]);
    // Ready, and saying that auditing fails: visible, not blocking.
    const ready = await fetch(`${api}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { warnings?: string[] }).warnings).toContain(AUDIT_FAILING_WARNING);
    fhir.restore();
    const delivered = await waitUntil(() => storedEvents(run.id), (list) => list.some((e) => kindOf(e) === 'rest:read:0') && list.some((e) => e.type.code === '110112'), 'audit events delivered after the outage');
    for (const event of delivered) expect(validator.check(event)).toEqual([]);
    await waitUntil(() => metric(AUDIT_METRIC_NAMES.pending), (n) => n === 0, 'audit buffer drained');
    const warnings = async () => ((await (await fetch(`${api}/readyz`)).json()) as { warnings?: string[] }).warnings ?? [];
    await waitUntil(warnings, (list) => !list.includes(AUDIT_FAILING_WARNING), 'the audit warning gone after recovery');
  });

  it('writes the same events as JSON lines with AUDIT_SINK=file', async () => {
    await service!.stop();
    service = undefined;
    const file = join(work, 'audit.jsonl');
    // A fresh queue prefix: the service remembers nothing, so the study is analysed and published again.
    await start({ AUDIT_SINK: 'file', AUDIT_FILE: file });
    const run = await runOnce();
    expect(run.state, String(run.errorCode)).toBe('completed');
    expect(run.outcome).toBe('published');
    const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent) : []);
    await waitUntil(async () => lines().filter((e) => runIdOf(e) === run.id), (list) => list.some((e) => kindOf(e) === 'rest:transaction:0'), 'audit lines of the run');
    await waitUntil(() => metric(AUDIT_METRIC_NAMES.pending), (n) => n === 0, 'audit buffer drained');
    const ofRun = lines().filter((e) => runIdOf(e) === run.id);
    for (const event of ofRun) expect(validator.check(event)).toEqual([]);
    expect([...new Set(ofRun.map(kindOf))].sort()).toEqual(fhirSinkKinds);
  });

  it('keeps patient data out of the logs while auditing', () => {
    const logs = logLines.join('');
    expect(logs).toContain('run completed');
    expect(logs).toContain('audit delivery failed, will retry');
    for (const value of Object.values(FIXTURE_PATIENT)) expect(logs).not.toContain(value);
    expect(logs).not.toContain('ZQXPATIENT');
    expect(logs).not.toContain(studyUid);
    expect(logs).not.toContain(`Patient/${patientId}`);
  });
});
