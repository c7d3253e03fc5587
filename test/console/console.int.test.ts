import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImagingStudy } from '@medplum/fhirtypes';
import { createDicomwebClient } from '../../src/dicom/dicomweb/dicomweb-client.ts';
import { startService, type RunningService } from '../../src/main.ts';
import type { RunView } from '../../src/queue/run-view.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ensureFixtures } from '../support/fixtures.ts';
import { startFhirServer, type FhirTestServer } from '../support/fhir-server.ts';
import { copyWithFreshUids } from '../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../support/orthanc.ts';
import { openTestRedis } from '../support/redis.ts';
import { ENDED, waitUntil } from '../support/service-probe.ts';

// The operator console in a real browser (Debian's chromium driven by playwright-core) against the real
// service: Redis + BullMQ, Orthanc, the Medplum FHIR engine, the tiny model. Every study carries canary
// patient data that must never reach a page, and the API token must never reach a URL.

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = resolve('.tmp/console-screenshots');
const TOKEN = `console-token-${Math.random().toString(36).slice(2)}`;
const CANARY = { name: 'CANARYQX^ZEBULON^MARGOT', id: 'CANARY-ID-90317', birthDate: '19400229', accessionNumber: 'CANACC7741' };
const PROFILES = `
version: 1
profiles:
  - name: ct
    match: { modality: [CT] }
    tasks:
      - { id: ct-report, kind: report, prompt: Describe this CT., slices: { mode: middle }, decode: { maxNewTokens: 6 } }
  - name: chest-xr
    match: { modality: [CR, DX], bodyPart: [CHEST] }
    tasks:
      - { id: cxr-report, kind: report, prompt: Describe this radiograph. }
`;
const CT = 'samples/sample-study/ct-01.dcm';

describe('operator console', () => {
  let orthanc: OrthancServer;
  let fhir: FhirTestServer;
  let service: RunningService;
  let redis: ReturnType<typeof openTestRedis>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: string;
  let work: string;
  const visited: string[] = [];
  const requested: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'console-'));
    mkdirSync(SCREENSHOTS, { recursive: true });
    writeFileSync(join(work, 'profiles.yaml'), PROFILES);
    [orthanc, fhir] = await Promise.all([startOrthanc(), startFhirServer()]);
    redis = openTestRedis();
    service = await startService('serve', {
      PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, FHIR_URL: fhir.baseUrl, DEBOUNCE_MS: '0', RECONCILE_INTERVAL_MS: '0',
      API_TOKEN: TOKEN, ALLOW_UNAUTHENTICATED: 'true', EXECUTION_PROVIDER: 'cpu', TASK_PROFILES_FILE: join(work, 'profiles.yaml'),
      DICOMWEB_URL: orthanc.baseUrl, DICOMWEB_ALLOWED_ORIGINS: new URL(orthanc.baseUrl).origin,
      RETRY_FIRST_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '150', STUDY_LOCK_RETRY_MS: '100',
    }, { logger: createLogger({ level: 'error' }) });
    api = `http://127.0.0.1:${service.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('request', (request) => requested.push(request.url()));
    page.on('dialog', (dialog) => void dialog.accept());
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await Promise.all([orthanc?.stop(), fhir?.stop()]);
    await redis?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const getRun = async (id: string) => {
    const response = await fetch(`${api}/jobs/${id}`, { headers: auth });
    return response.status === 200 ? ((await response.json()) as RunView) : undefined;
  };
  const waitForRun = (id: string, done: (run: RunView) => boolean = (r) => ENDED.includes(r.state)) =>
    waitUntil(() => getRun(id), (r) => r !== undefined && done(r), `run ${id}`) as Promise<RunView>;

  async function canaryCtStudy() {
    const files = await copyWithFreshUids([CT], mkdtempSync(join(work, 'study-')), {
      sameSeries: true, modify: [`(0010,0010)=${CANARY.name}`, `(0010,0020)=${CANARY.id}`, `(0008,0050)=${CANARY.accessionNumber}`],
    });
    await orthanc.upload(files.map((f) => f.path));
    const studyUid = files[0]!.studyInstanceUid;
    const study = await fhir.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' },
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }],
    });
    return { studyUid, imagingStudyId: study.id! };
  }

  async function analyze(studyUid: string): Promise<string> {
    const response = await fetch(`${api}/studies/${studyUid}/analyze`, { method: 'POST', headers: auth });
    expect(response.status).toBe(202);
    return ((await response.json()) as { jobId: string }).jobId;
  }

  /** Every page is checked for canary data and kept as a screenshot. */
  async function look(name: string): Promise<string> {
    const html = await page.content();
    visited.push(page.url());
    for (const value of [...Object.values(CANARY), CANARY.name.replaceAll('^', ' '), 'CANARYQX']) expect(html, `${name} shows ${value}`).not.toContain(value);
    expect(html).not.toContain(TOKEN);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    return html;
  }

  it('logs in, shows a completed and a failed run, their timelines, retries the failed one to completion, and tests profiles on a CT and an SR series', async () => {
    // A completed run, then one whose result transaction the FHIR server refuses (400: permanent).
    const good = await canaryCtStudy();
    const completedId = await analyze(good.studyUid);
    expect(await waitForRun(completedId)).toMatchObject({ state: 'completed', outcome: 'published' });
    const bad = await canaryCtStudy();
    fhir.failWhile(400, (r) => r.method === 'POST' && r.url === '');
    const failedId = await analyze(bad.studyUid);
    expect(await waitForRun(failedId)).toMatchObject({ state: 'failed', errorCode: 'UPSTREAM_HTTP_ERROR' });

    // Not logged in: the console sends the browser to the login form; a wrong token is refused.
    await page.goto(`${api}/ui`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await look('login');
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.problem')).toContain('not the API token');
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${api}/ui`);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'unimedvl_console');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(session!.value).not.toContain(TOKEN);

    // The runs list with its dashboard strip.
    const list = await look('runs');
    expect(list).toContain(completedId);
    expect(list).toContain(failedId);
    expect(await page.textContent('.strip')).toContain('CPU');
    await page.selectOption('select[name=state]', 'failed');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/state=failed/);
    expect(await page.locator('table.runs tbody tr').count()).toBe(1);
    expect(await page.textContent('table.runs')).toContain(failedId);
    await look('runs-filtered-failed');

    // The completed run's timeline: queue wait, the analyze and publish steps, the FHIR result it wrote.
    await page.goto(`${api}/ui/runs/${completedId}`);
    const timeline = await page.textContent('table.timeline');
    for (const step of ['queue wait', 'analyze · attempt 1', 'resolve study (FHIR)', 'retrieve (WADO-RS)', 'decode pixels', 'model', 'publish · attempt 1', 'DICOM write (STOW-RS)', 'FHIR write']) {
      expect(timeline).toContain(step);
    }
    const reportLink = await page.getAttribute('ul.results a', 'href');
    expect(reportLink).toMatch(new RegExp(`^${fhir.baseUrl.replace(/\/+$/, '')}/DiagnosticReport/`));
    await look('run-completed');

    // The failed run: its failed attempt's code; fix the cause, retry from the console, see it complete.
    await page.goto(`${api}/ui/runs/${failedId}`);
    expect(await page.textContent('#run-error')).toBe('UPSTREAM_HTTP_ERROR');
    expect(await page.textContent('table.timeline')).toContain('UPSTREAM_HTTP_ERROR');
    await look('run-failed');
    fhir.restore();
    await page.click('button:has-text("Retry run")');
    await page.waitForSelector('.notice');
    // The page reloads itself while the run is under way; wait for the state it shows.
    await page.waitForSelector('#run-outcome:has-text("published")', { timeout: 120_000 });
    expect(await page.textContent('#run-state')).toBe('completed');
    await look('run-retried-completed');

    // Profile tester: a CT study from the PACS by Study Instance UID.
    await page.goto(`${api}/ui/profiles`);
    await look('profiles');
    await page.fill('#study', good.studyUid);
    await page.click('form:has(#study) button[type=submit]');
    await page.waitForSelector('#report');
    const ctReport = await page.textContent('#report');
    expect(ctReport).toContain('1 profile(s) match');
    expect(ctReport).toContain('ct-report');
    expect(ctReport).toContain('Modality CT is not one of CR, DX');
    await look('profiles-ct');

    // ... and an SR series, its metadata uploaded as a file (the page's script fills the text area).
    const fixtures = await ensureFixtures();
    const reports = (await fixtures.modalityStudies({ seed: 'console', patient: CANARY })).studies.reportsOnly;
    await orthanc.upload(reports.files);
    const client = createDicomwebClient({ baseUrl: orthanc.baseUrl });
    const srSeries = (await client.searchSeries(reports.studyInstanceUid)).find((s) => (s['00080060']?.Value as string[] | undefined)?.[0] === 'SR')!;
    const metadata = await client.retrieveSeriesMetadata(reports.studyInstanceUid, (srSeries['0020000E']!.Value as string[])[0]!);
    await client.close();
    expect(JSON.stringify(metadata)).toContain('CANARYQX');
    writeFileSync(join(work, 'sr-metadata.json'), JSON.stringify(metadata));
    await page.setInputFiles('input[data-fills=metadata]', join(work, 'sr-metadata.json'));
    await expect.poll(() => page.inputValue('#metadata').then((v) => v.length)).toBeGreaterThan(100);
    await page.click('form:has(#metadata) button[type=submit]');
    await page.waitForSelector('#report');
    const srReport = await page.textContent('#report');
    expect(srReport).toContain('No profile matches');
    expect(srReport).toContain('Modality SR is not one of CT');
    expect(srReport).toContain('not in SERIES_MODALITIES');
    await look('profiles-sr');

    // Validating a profile file with the start-up schema.
    await page.fill('#profile-file', 'version: 1\nprofiles:\n  - name: x\n    match: { modality: [CT] }\n    tasks: [{ id: BAD ID, kind: report, prompt: P }]\n');
    await page.click('form:has(#profile-file) button[type=submit]');
    expect(await page.textContent('#file-invalid')).toContain('profiles.0.tasks.0.id');
    await look('profiles-validate');

    // The token never went into a URL: requests, links, GET forms, the history.
    const links = await page.$$eval('a[href], form', (elements) => elements.map((e) => e.getAttribute('href') ?? e.getAttribute('action') ?? ''));
    const history = await page.evaluate<number>('window.history.length');
    expect(history).toBeGreaterThan(5);
    for (const url of [...requested, ...visited, ...links]) expect(url).not.toContain(TOKEN);

    // Logging out ends the session on the server: the old cookie no longer opens a page.
    await page.click('form.logout button');
    await page.waitForURL(`${api}/ui/login`);
    const replay = await fetch(`${api}/ui`, { headers: { cookie: `unimedvl_console=${session!.value}` }, redirect: 'manual' });
    expect(replay.status).toBe(303);
  });

  it('refuses a POST without the session\'s CSRF token, and answers a bearer client without a session', async () => {
    const login = await fetch(`${api}/ui/login`, { redirect: 'manual' });
    const nonceCookie = login.headers.getSetCookie().find((c) => c.startsWith('unimedvl_console_login='))!.split(';')[0]!;
    const nonce = /name="nonce" value="([^"]+)"/.exec(await login.text())![1]!;
    const loggedIn = await fetch(`${api}/ui/login`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: nonceCookie },
      body: new URLSearchParams({ nonce, token: TOKEN }),
    });
    expect(loggedIn.status).toBe(303);
    const cookie = loggedIn.headers.getSetCookie().find((c) => c.startsWith('unimedvl_console='))!.split(';')[0]!;
    const forged = await fetch(`${api}/ui/profiles/validate`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ profiles: 'version: 1\nprofiles: []\n', csrf: 'guess' }),
    });
    expect(forged.status).toBe(403);
    const bearer = await fetch(`${api}/ui`, { headers: auth, redirect: 'manual' });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await bearer.text()).not.toMatch(/<script>|style="/);
  });
});
