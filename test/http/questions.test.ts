import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { DependencyUnavailableError } from '../../src/shared/errors.ts';
import { createTestDeps } from './support/fake-deps.ts';
import { expectMatchesSpec, expectOperationOutcome } from './support/spec-response.ts';

const TOKEN = 'api-token-123';
const UID = '1.2.826.0.1.3680043.8.498.10293847561';
const SERIES = '1.2.826.0.1.3680043.8.498.555';
const PATH = '/studies/{studyInstanceUid}/questions';
const QUESTION = 'Is there a pleural effusion on the left?';

const ask = (deps: ReturnType<typeof createTestDeps>, body: unknown, token: string | undefined = TOKEN) => {
  const req = request(buildApp(deps)).post(`/studies/${UID}/questions`);
  if (token) req.set('Authorization', `Bearer ${token}`);
  return typeof body === 'string' ? req.type('json').send(body) : req.send(body as object);
};

describe('POST /studies/{studyInstanceUid}/questions', () => {
  it('creates a question run for the study and answers 202 with the run and its Location', async () => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
    const res = await ask(deps, { question: QUESTION, series: SERIES, slices: [0, 2], maxNewTokens: 64 });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: 'job-1', created: true, rerunScheduled: false });
    expect(res.headers.location).toBe('/jobs/job-1');
    expectMatchesSpec(res, PATH, 'post');
    expect(deps.enqueue.calls).toEqual([{
      study: { studyInstanceUid: UID }, trigger: 'api',
      question: { text: QUESTION, seriesInstanceUid: SERIES, slices: [0, 2], maxNewTokens: 64 },
    }]);
  });

  it('needs only the question', async () => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
    expect((await ask(deps, { question: QUESTION })).status).toBe(202);
    expect(deps.enqueue.calls).toEqual([{ study: { studyInstanceUid: UID }, trigger: 'api', question: { text: QUESTION } }]);
  });

  it.each([
    ['no question', {}],
    ['a blank question', { question: '   ' }],
    ['a question over 2000 characters', { question: 'x'.repeat(2001) }],
    ['an unknown field', { question: QUESTION, force: true }],
    ['a series that is not a UID', { question: QUESTION, series: 'abc' }],
    ['a negative slice', { question: QUESTION, slices: [-1] }],
    ['a repeated slice', { question: QUESTION, slices: [1, 1] }],
    ['an empty slice list', { question: QUESTION, slices: [] }],
  ])('answers 400 for %s and creates nothing', async (_what, body) => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
    const res = await ask(deps, body);
    expect(res.status).toBe(400);
    expectMatchesSpec(res, PATH, 'post');
    expectOperationOutcome(res, 'REQUEST_INVALID');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 400 for malformed JSON and 415 for another content type', async () => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
    const malformed = await ask(deps, '{"question": ');
    expect(malformed.status).toBe(400);
    expectOperationOutcome(malformed, 'JSON_MALFORMED');
    const text = await request(buildApp(deps)).post(`/studies/${UID}/questions`).set('Authorization', `Bearer ${TOKEN}`).type('text/plain').send(QUESTION);
    expect(text.status).toBe(415);
    expectMatchesSpec(text, PATH, 'post');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('refuses more slices or tokens than the model takes (MODEL_MAX_IMAGES, MODEL_MAX_NEW_TOKENS) with 422', async () => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN, MODEL_MAX_IMAGES: '2', MODEL_MAX_NEW_TOKENS: '100' } });
    const slices = await ask(deps, { question: QUESTION, slices: [0, 1, 2] });
    expect(slices.status).toBe(422);
    expectMatchesSpec(slices, PATH, 'post');
    expectOperationOutcome(slices, 'MODEL_LIMIT_EXCEEDED');
    const tokens = await ask(deps, { question: QUESTION, maxNewTokens: 101 });
    expect(tokens.status).toBe(422);
    expectOperationOutcome(tokens, 'MODEL_LIMIT_EXCEEDED');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 401 without the bearer token and creates nothing', async () => {
    const deps = createTestDeps({ env: { API_TOKEN: TOKEN } });
    const res = await ask(deps, { question: QUESTION }, 'wrong-token');
    expect(res.status).toBe(401);
    expectMatchesSpec(res, PATH, 'post');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 503 when the queue is unavailable', async () => {
    const deps = createTestDeps();
    deps.enqueue.failWith = new DependencyUnavailableError('redis');
    const res = await ask(deps, { question: QUESTION }, undefined);
    expect(res.status).toBe(503);
    expectOperationOutcome(res, 'DEPENDENCY_UNAVAILABLE');
  });

  it('keeps the question and the UIDs out of the logs', async () => {
    const deps = createTestDeps();
    await ask(deps, { question: QUESTION, series: SERIES }, undefined).expect(202);
    await ask(deps, { question: QUESTION, series: 'nope' }, undefined).expect(400);
    const logs = deps.logLines.join('');
    for (const secret of [QUESTION, UID, SERIES]) expect(logs).not.toContain(secret);
  });
});
