import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { DependencyUnavailableError } from '../../src/shared/errors.ts';
import { createTestDeps } from './support/fake-deps.ts';
import { expectMatchesSpec, expectOperationOutcome } from './support/spec-response.ts';

const TOKEN = 'api-token-123';
const UID = '1.2.826.0.1.3680043.8.498.10293847561';
const PATH = '/studies/{studyInstanceUid}/analyze';

describe('POST /studies/{studyInstanceUid}/analyze', () => {
  it('enqueues the study and answers 202 with the job and its Location', async () => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
    const res = await request(buildApp(deps)).post(`/studies/${UID}/analyze`).set('Authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: 'job-1', created: true, rerunScheduled: false });
    expect(res.headers.location).toBe('/jobs/job-1');
    expectMatchesSpec(res, PATH, 'post');
    expect(deps.enqueue.calls).toEqual([{ study: { studyInstanceUid: UID }, trigger: 'api' }]);
  });

  it('says so when a request made while the study runs schedules one rerun', async () => {
    const deps = createTestDeps();
    const app = buildApp(deps);
    const first = await request(app).post(`/studies/${UID}/analyze`);
    expect(first.body).toEqual({ jobId: 'job-1', created: true, rerunScheduled: false });
    const waiting = await request(app).post(`/studies/${UID}/analyze`);
    expect(waiting.body).toEqual({ jobId: 'job-1', created: false, rerunScheduled: false });
    deps.enqueue.running.add(UID);
    const during = await request(app).post(`/studies/${UID}/analyze`);
    expect(during.status).toBe(202);
    expect(during.body).toEqual({ jobId: 'job-1', created: false, rerunScheduled: true });
    expect(during.headers.location).toBe('/jobs/job-1');
    expectMatchesSpec(during, PATH, 'post');
  });

  it('ignores a body (none is part of the contract)', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).post(`/studies/${UID}/analyze`).type('json').send('{"force": true}');
    expect(res.status).toBe(202);
    expect(deps.enqueue.calls).toHaveLength(1);
  });

  it.each(['1.2.3.04', 'abc', '1', `1.${'2'.repeat(70)}`, '1..2'])('answers 400 for the UID %s', async (uid) => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).post(`/studies/${uid}/analyze`);
    expect(res.status).toBe(400);
    expectMatchesSpec(res, PATH, 'post');
    expectOperationOutcome(res, 'REQUEST_INVALID');
    if (uid.length > 3) expect(res.text).not.toContain(uid);
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 401 without the bearer token and enqueues nothing', async () => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
    const res = await request(buildApp(deps)).post(`/studies/${UID}/analyze`).set('Authorization', 'Bearer api-token-124');
    expect(res.status).toBe(401);
    expectMatchesSpec(res, PATH, 'post');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 503 when the queue is unavailable', async () => {
    const deps = createTestDeps();
    deps.enqueue.failWith = new DependencyUnavailableError('redis');
    const res = await request(buildApp(deps)).post(`/studies/${UID}/analyze`);
    expect(res.status).toBe(503);
    expectMatchesSpec(res, PATH, 'post');
    expectOperationOutcome(res, 'DEPENDENCY_UNAVAILABLE');
  });

  it('keeps the Study Instance UID out of the logs', async () => {
    const deps = createTestDeps();
    await request(buildApp(deps)).post(`/studies/${UID}/analyze`).expect(202);
    await request(buildApp(deps)).post(`/studies/${UID}.x/analyze`).expect(400);
    expect(deps.logLines.join('')).not.toContain(UID);
  });
});
