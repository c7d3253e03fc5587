import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { hashStudyUid } from '../../src/shared/uids.ts';
import { createTestDeps, sampleRun } from './support/fake-deps.ts';
import { expectMatchesSpec, expectOperationOutcome } from './support/spec-response.ts';

const TOKEN = 'api-token-123';
const UID = '1.2.826.0.1.3680043.8.498.10293847561';

function appWithRuns() {
  const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
  deps.runStore.runs.push(
    sampleRun({ id: 'run-1764000000003-0000000c', studyKey: hashStudyUid(UID), createdAt: '2026-01-03T00:00:00.000Z' }),
    sampleRun({
      id: 'run-1764000000002-0000000b', state: 'dead-letter', stage: 'publish', outcome: null, errorCode: 'UPSTREAM_HTTP_ERROR', retryable: true,
      results: null, modalities: ['MR'], createdAt: '2026-01-02T00:00:00.000Z',
    }),
    sampleRun({
      id: 'run-1764000000001-0000000a', state: 'failed', stage: 'analyze', outcome: null, errorCode: 'STUDY_NOT_FOUND', retryable: false,
      results: null, createdAt: '2026-01-01T00:00:00.000Z',
    }),
    sampleRun({ id: 'run-1764000000000-00000009', state: 'running', stage: 'analyze', outcome: null, results: null, endedAt: null }),
  );
  return { deps, app: buildApp(deps) };
}
const auth = { Authorization: `Bearer ${TOKEN}` };

describe('GET /jobs/{id}', () => {
  it('returns the run with its stages, attempts and results', async () => {
    const res = await request(appWithRuns().app).get('/jobs/run-1764000000002-0000000b').set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'run-1764000000002-0000000b', state: 'dead-letter', errorCode: 'UPSTREAM_HTTP_ERROR', kind: 'analysis' });
    expectMatchesSpec(res, '/jobs/{id}', 'get');
  });

  it('answers 404 JOB_NOT_FOUND for an unknown id', async () => {
    const res = await request(appWithRuns().app).get('/jobs/nope').set(auth);
    expect(res.status).toBe(404);
    expectMatchesSpec(res, '/jobs/{id}', 'get');
    expectOperationOutcome(res, 'JOB_NOT_FOUND');
  });

  it('answers 400 for an id outside the contract pattern', async () => {
    const res = await request(appWithRuns().app).get('/jobs/a%20b').set(auth);
    expect(res.status).toBe(400);
    expectMatchesSpec(res, '/jobs/{id}', 'get');
    expectOperationOutcome(res, 'REQUEST_INVALID');
  });

  it('answers 401 with WWW-Authenticate for a missing or wrong bearer token', async () => {
    const { app } = appWithRuns();
    for (const headers of [{}, { Authorization: 'Bearer wrong-token-1' }, { Authorization: `Basic ${TOKEN}` }]) {
      const res = await request(app).get('/jobs/run-1764000000003-0000000c').set(headers);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expectMatchesSpec(res, '/jobs/{id}', 'get');
      expectOperationOutcome(res, 'UNAUTHORIZED');
    }
  });

  it('is open when no API_TOKEN is configured', async () => {
    const deps = createTestDeps();
    deps.runStore.runs.push(sampleRun({ id: 'run-1' }));
    expect((await request(buildApp(deps)).get('/jobs/run-1')).status).toBe(200);
  });
});

describe('GET /jobs', () => {
  it('lists runs with the default page', async () => {
    const res = await request(appWithRuns().app).get('/jobs').set(auth);
    expect(res.status).toBe(200);
    expect(res.body.limit).toBe(50);
    expect(res.body.offset).toBe(0);
    expect(res.body.jobs).toHaveLength(4);
    expectMatchesSpec(res, '/jobs', 'get');
  });

  it('filters by state, error code, modality, study and creation time, and pages', async () => {
    const { app } = appWithRuns();
    const ids = async (query: string) => ((await request(app).get(`/jobs?${query}`).set(auth)).body.jobs as { id: string }[]).map((j) => j.id);
    expect(await ids('state=failed')).toEqual(['run-1764000000001-0000000a']);
    expect(await ids('errorCode=UPSTREAM_HTTP_ERROR')).toEqual(['run-1764000000002-0000000b']);
    expect(await ids('modality=MR')).toEqual(['run-1764000000002-0000000b']);
    expect(await ids(`study=${UID}`)).toEqual(['run-1764000000003-0000000c']);
    expect(await ids('from=2026-01-02T00:00:00Z&to=2026-01-02T12:00:00Z')).toEqual(['run-1764000000002-0000000b']);
    const page = await request(app).get('/jobs?limit=1&offset=1').set(auth);
    expect(page.body).toMatchObject({ limit: 1, offset: 1 });
    expect(page.body.jobs.map((j: { id: string }) => j.id)).toEqual(['run-1764000000002-0000000b']);
    expectMatchesSpec(page, '/jobs', 'get');
  });

  it.each(['state=bogus', 'state=active', 'limit=0', 'limit=501', 'limit=ten', 'offset=-1', 'colour=blue', 'state=failed&state=running',
    'errorCode=lower', 'study=1.2.03', 'from=yesterday',
    // Numbers past every bound or not written as decimals (ajv alone read 0x10 as 16 and 1e400 as Infinity).
    'limit=9999999999999999999999999999999999', 'offset=99999999999999999999999', 'limit=1e400', 'limit=0x10', 'limit=1.5',
    'limit=%2B5', 'limit=', 'offset=1e3', 'limit[a]=1', 'offset=NaN', 'limit=Infinity', 'limit=%EF%BC%95'])(
    'answers 400 for %s', async (query) => {
      const res = await request(appWithRuns().app).get(`/jobs?${query}`).set(auth);
      expect(res.status).toBe(400);
      expectMatchesSpec(res, '/jobs', 'get');
      expectOperationOutcome(res, 'REQUEST_INVALID');
    },
  );

  it('names the offending parameter in diagnostics', async () => {
    const res = await request(appWithRuns().app).get('/jobs?limit=501').set(auth);
    expect(res.body.issue[0].diagnostics).toMatch(/^query\/limit /);
    const hex = await request(appWithRuns().app).get('/jobs?limit=0x10').set(auth);
    expect(hex.body.issue[0].diagnostics).toBe('query/limit must be a decimal integer');
  });

  it('takes limit and offset at their contract bounds', async () => {
    const res = await request(appWithRuns().app).get('/jobs?limit=500&offset=1000000').set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ jobs: [], limit: 500, offset: 1000000 });
  });
});

describe('GET /studies/{studyInstanceUid}/runs', () => {
  it("lists the study's runs by its UID's hash", async () => {
    const res = await request(appWithRuns().app).get(`/studies/${UID}/runs`).set(auth);
    expect(res.status).toBe(200);
    expect(res.body.jobs.map((j: { id: string }) => j.id)).toEqual(['run-1764000000003-0000000c']);
    expect(res.text).not.toContain(UID);
    expectMatchesSpec(res, '/studies/{studyInstanceUid}/runs', 'get');
  });

  it('answers 400 for a UID outside the contract and 401 without the token', async () => {
    const { app } = appWithRuns();
    const bad = await request(app).get('/studies/1..2/runs').set(auth);
    expect(bad.status).toBe(400);
    expectOperationOutcome(bad, 'REQUEST_INVALID');
    for (const query of ['limit=9999999999999999999999999999999999', 'offset=-1', 'limit=1e2']) {
      const res = await request(app).get(`/studies/${UID}/runs?${query}`).set(auth);
      expect(res.status).toBe(400);
      expectOperationOutcome(res, 'REQUEST_INVALID');
    }
    const unauthorised = await request(app).get(`/studies/${UID}/runs`);
    expect(unauthorised.status).toBe(401);
    expectMatchesSpec(unauthorised, '/studies/{studyInstanceUid}/runs', 'get');
  });
});

describe('POST /jobs/{id}/retry', () => {
  it('replays a dead-lettered run: 202 with the run that carries the replay', async () => {
    const { app, deps } = appWithRuns();
    const res = await request(app).post('/jobs/run-1764000000002-0000000b/retry').set(auth);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: 'run-1764000000002-0000000b', replayed: 'run-1764000000002-0000000b', stage: 'publish' });
    expect(res.headers.location).toBe('/jobs/run-1764000000002-0000000b');
    expectMatchesSpec(res, '/jobs/{id}/retry', 'post');
    expect(deps.runStore.replays).toEqual(['run-1764000000002-0000000b']);
  });

  it('answers 409 RUN_NOT_REPLAYABLE for a run that is not failed or dead-lettered, 404 for none', async () => {
    const { app, deps } = appWithRuns();
    const busy = await request(app).post('/jobs/run-1764000000000-00000009/retry').set(auth);
    expect(busy.status).toBe(409);
    expectMatchesSpec(busy, '/jobs/{id}/retry', 'post');
    expectOperationOutcome(busy, 'RUN_NOT_REPLAYABLE');
    const missing = await request(app).post('/jobs/run-0/retry').set(auth);
    expect(missing.status).toBe(404);
    expectOperationOutcome(missing, 'JOB_NOT_FOUND');
    expect(deps.runStore.replays).toEqual([]);
  });

  it('answers 401 without the token and replays nothing', async () => {
    const { app, deps } = appWithRuns();
    const res = await request(app).post('/jobs/run-1764000000002-0000000b/retry');
    expect(res.status).toBe(401);
    expect(deps.runStore.replays).toEqual([]);
  });
});

describe('POST /jobs/retry', () => {
  it('replays dead-lettered runs of one error code', async () => {
    const { app, deps } = appWithRuns();
    const res = await request(app).post('/jobs/retry').set(auth).send({ errorCode: 'UPSTREAM_HTTP_ERROR', limit: 10 });
    expect(res.status).toBe(202);
    expect(res.body.replayed.map((r: { replayed: string }) => r.replayed)).toEqual(['run-1764000000002-0000000b']);
    expectMatchesSpec(res, '/jobs/retry', 'post');
    const none = await request(app).post('/jobs/retry').set(auth).send({ errorCode: 'STOW_REJECTED' });
    expect(none.body).toEqual({ replayed: [] });
    expect(deps.runStore.replays).toEqual(['run-1764000000002-0000000b']);
  });

  it('accepts no body (every dead-lettered run, up to the default limit)', async () => {
    const res = await request(appWithRuns().app).post('/jobs/retry').set(auth);
    expect(res.status).toBe(202);
    expect(res.body.replayed).toHaveLength(1);
  });

  it.each([
    ['an unknown field', { errorCode: 'X', everything: true }],
    ['a limit over 500', { limit: 501 }],
    ['a code that is not one', { errorCode: 'not a code' }],
  ])('answers 400 for %s', async (_name, body) => {
    const { app, deps } = appWithRuns();
    const res = await request(app).post('/jobs/retry').set(auth).send(body);
    expect(res.status).toBe(400);
    expectMatchesSpec(res, '/jobs/retry', 'post');
    expectOperationOutcome(res, 'REQUEST_INVALID');
    expect(deps.runStore.replays).toEqual([]);
  });

  it('answers 415 for a body that is not JSON and 401 without the token', async () => {
    const { app } = appWithRuns();
    const text = await request(app).post('/jobs/retry').set(auth).set('content-type', 'text/plain').send('errorCode=X');
    expect(text.status).toBe(415);
    expectOperationOutcome(text, 'UNSUPPORTED_MEDIA_TYPE');
    expect((await request(app).post('/jobs/retry').send({})).status).toBe(401);
  });
});
