import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createTestDeps, sampleJob } from './support/fake-deps.ts';
import { expectMatchesSpec, expectOperationOutcome } from './support/spec-response.ts';

const TOKEN = 'api-token-123';

function appWithJobs() {
  const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
  deps.jobStore.jobs.push(
    sampleJob({ id: 'j1', state: 'completed' }),
    sampleJob({
      id: 'j2', state: 'failed', failureCode: 'STUDY_NOT_FOUND', progress: null, result: null, finishedAt: null,
      attempts: [{ attempt: 1, startedAt: '2026-01-01T10:00:00.000Z', endedAt: '2026-01-01T10:00:01.000Z', outcome: 'failed', errorCode: 'STUDY_NOT_FOUND', retryable: false }],
    }),
    sampleJob({ id: 'j3', state: 'waiting', progress: null, processedAt: null, finishedAt: null, result: null, attempts: [], attemptsMade: 0 }),
  );
  return { deps, app: buildApp(deps) };
}
const auth = { Authorization: `Bearer ${TOKEN}` };

describe('GET /jobs/{id}', () => {
  it('returns the job view', async () => {
    const res = await request(appWithJobs().app).get('/jobs/j2').set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'j2', state: 'failed', failureCode: 'STUDY_NOT_FOUND' });
    expectMatchesSpec(res, '/jobs/{id}', 'get');
  });

  it('answers 404 JOB_NOT_FOUND for an unknown id', async () => {
    const res = await request(appWithJobs().app).get('/jobs/nope').set(auth);
    expect(res.status).toBe(404);
    expectMatchesSpec(res, '/jobs/{id}', 'get');
    expectOperationOutcome(res, 'JOB_NOT_FOUND');
  });

  it('answers 400 for an id outside the contract pattern', async () => {
    const res = await request(appWithJobs().app).get('/jobs/a%20b').set(auth);
    expect(res.status).toBe(400);
    expectMatchesSpec(res, '/jobs/{id}', 'get');
    expectOperationOutcome(res, 'REQUEST_INVALID');
  });

  it('answers 401 with WWW-Authenticate for a missing or wrong bearer token', async () => {
    const { app } = appWithJobs();
    for (const headers of [{}, { Authorization: 'Bearer wrong-token-1' }, { Authorization: `Basic ${TOKEN}` }]) {
      const res = await request(app).get('/jobs/j1').set(headers);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expectMatchesSpec(res, '/jobs/{id}', 'get');
      expectOperationOutcome(res, 'UNAUTHORIZED');
    }
  });

  it('is open when no API_TOKEN is configured', async () => {
    const deps = createTestDeps();
    deps.jobStore.jobs.push(sampleJob({ id: 'j1' }));
    expect((await request(buildApp(deps)).get('/jobs/j1')).status).toBe(200);
  });
});

describe('GET /jobs', () => {
  it('lists jobs with the default page', async () => {
    const res = await request(appWithJobs().app).get('/jobs').set(auth);
    expect(res.status).toBe(200);
    expect(res.body.limit).toBe(50);
    expect(res.body.offset).toBe(0);
    expect(res.body.jobs.map((j: { id: string }) => j.id)).toEqual(['j1', 'j2', 'j3']);
    expectMatchesSpec(res, '/jobs', 'get');
  });

  it('filters by state and pages with limit and offset', async () => {
    const { app } = appWithJobs();
    const failed = await request(app).get('/jobs?state=failed').set(auth);
    expect(failed.body.jobs.map((j: { id: string }) => j.id)).toEqual(['j2']);
    const page = await request(app).get('/jobs?limit=1&offset=1').set(auth);
    expect(page.body).toMatchObject({ limit: 1, offset: 1 });
    expect(page.body.jobs.map((j: { id: string }) => j.id)).toEqual(['j2']);
    expectMatchesSpec(page, '/jobs', 'get');
  });

  it.each(['state=bogus', 'limit=0', 'limit=501', 'limit=ten', 'offset=-1', 'colour=blue', 'state=failed&state=active'])(
    'answers 400 for %s', async (query) => {
      const res = await request(appWithJobs().app).get(`/jobs?${query}`).set(auth);
      expect(res.status).toBe(400);
      expectMatchesSpec(res, '/jobs', 'get');
      expectOperationOutcome(res, 'REQUEST_INVALID');
    },
  );

  it('names the offending parameter in diagnostics', async () => {
    const res = await request(appWithJobs().app).get('/jobs?limit=501').set(auth);
    expect(res.body.issue[0].diagnostics).toMatch(/^query\/limit /);
  });
});
