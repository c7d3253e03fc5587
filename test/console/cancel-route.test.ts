import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createTestDeps, sampleRun } from '../http/support/fake-deps.ts';
import { expectMatchesSpec, expectOperationOutcome } from '../http/support/spec-response.ts';

const TOKEN = 'api-token-cancel';
const auth = { Authorization: `Bearer ${TOKEN}` };
const QUEUED = 'run-1764000000005-0000000e';
const DONE = 'run-1764000000004-0000000d';

function app() {
  const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
  deps.runStore.runs.push(
    sampleRun({ id: QUEUED, state: 'queued', stage: 'analyze', outcome: null, results: null, endedAt: null, attempts: [] }),
    sampleRun({ id: DONE }),
  );
  return buildApp(deps);
}

describe('POST /jobs/{id}/cancel', () => {
  it('cancels a queued run and answers the run as it is now', async () => {
    const res = await request(app()).post(`/jobs/${QUEUED}/cancel`).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: QUEUED, state: 'failed', errorCode: 'RUN_CANCELLED' });
    expectMatchesSpec(res, '/jobs/{id}/cancel', 'post');
  });
  it('answers 409 RUN_NOT_CANCELLABLE for a run that is not queued', async () => {
    const res = await request(app()).post(`/jobs/${DONE}/cancel`).set(auth);
    expect(res.status).toBe(409);
    expectOperationOutcome(res, 'RUN_NOT_CANCELLABLE');
  });
  it('answers 404 for an unknown run and 401 without the token', async () => {
    const unknown = await request(app()).post('/jobs/run-1764000000009-00000001/cancel').set(auth);
    expect(unknown.status).toBe(404);
    expectOperationOutcome(unknown, 'JOB_NOT_FOUND');
    const anonymous = await request(app()).post(`/jobs/${QUEUED}/cancel`);
    expect(anonymous.status).toBe(401);
    expectOperationOutcome(anonymous, 'UNAUTHORIZED');
  });
});
