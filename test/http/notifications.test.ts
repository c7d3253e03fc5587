import { createHmac } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { DependencyUnavailableError } from '../../src/shared/errors.ts';
import {
  FHIR_BASE, FIXTURE_PATIENT_NAME, FIXTURE_STUDY_UID, backportBundle, idOnlyEntry, imagingStudy, resourceEntry,
  subscriptionStatusBundle,
} from '../triggers/fhir-notification/fixtures.ts';
import { createTestDeps, type TestDeps } from './support/fake-deps.ts';
import { expectMatchesSpec, expectOperationOutcome } from './support/spec-response.ts';

const SECRET = 'medplum-subscription-secret';
const NOTIFY = '/fhir/notify';
const PUT_PATH = '/fhir/notify/ImagingStudy/{id}';
const sign = (body: string, key = SECRET) => createHmac('sha256', key).update(body).digest('hex');

function signedApp(env: Record<string, string> = {}): { deps: TestDeps; post: (body: unknown, headers?: Record<string, string>) => request.Test } {
  const deps = createTestDeps({ env: { WEBHOOK_SECRET: SECRET, ...env } });
  const app = buildApp(deps);
  const post = (body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    return request(app).post(NOTIFY).set({ 'Content-Type': 'application/fhir+json', 'X-Signature': sign(text), ...headers }).send(text);
  };
  return { deps, post };
}

const medplumHeaders = { 'X-Medplum-Subscription': 'sub-medplum-1', 'X-Medplum-Interaction': 'update' };

describe('POST /fhir/notify: a notification while the study runs', () => {
  it('answers that one rerun is scheduled for the running study', async () => {
    const { deps, post } = signedApp();
    await post(imagingStudy('is-1', '3'), medplumHeaders);
    deps.enqueue.running.add('is-1');
    const res = await post(imagingStudy('is-1', '4'), medplumHeaders);
    expect(res.status).toBe(202);
    expectMatchesSpec(res, NOTIFY, 'post');
    expect(res.body).toEqual({ outcome: 'enqueued', jobs: [{ jobId: 'job-1', created: false, rerunScheduled: true }], ignoredEntries: 0 });
  });
});

describe('POST /fhir/notify: Medplum raw resource', () => {
  it('verifies the signature, enqueues the study and answers 202 with the job', async () => {
    const { deps, post } = signedApp();
    const res = await post(imagingStudy('is-1', '3'), medplumHeaders);
    expect(res.status).toBe(202);
    expectMatchesSpec(res, NOTIFY, 'post');
    expect(res.body).toEqual({ outcome: 'enqueued', jobs: [{ jobId: 'job-1', created: true, rerunScheduled: false }], ignoredEntries: 0 });
    expect(res.headers.location).toBe('/jobs/job-1');
    expect(deps.enqueue.calls).toEqual([
      { study: { imagingStudyId: 'is-1', studyInstanceUid: FIXTURE_STUDY_UID }, trigger: 'fhir-notification' },
    ]);
  });

  it('enqueues a duplicate delivery (same subscription, id, version) only once', async () => {
    const { deps, post } = signedApp();
    await post(imagingStudy('is-1', '3'), medplumHeaders).expect(202);
    const again = await post(imagingStudy('is-1', '3'), medplumHeaders);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'duplicate', jobs: [] });
    expectMatchesSpec(again, NOTIFY, 'post');
    expect(deps.enqueue.calls).toHaveLength(1);
  });

  it('acknowledges a delete ({} body) with 200 and no job', async () => {
    const { deps, post } = signedApp();
    const res = await post({}, { ...medplumHeaders, 'X-Medplum-Interaction': 'delete', 'X-Medplum-Deleted-Resource': 'ImagingStudy/is-1' });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('deleted');
    expectMatchesSpec(res, NOTIFY, 'post');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 422 for another resource type', async () => {
    const { deps, post } = signedApp();
    const res = await post({ resourceType: 'Patient', id: 'pat-1', name: [{ text: FIXTURE_PATIENT_NAME }] }, medplumHeaders);
    expect(res.status).toBe(422);
    expectMatchesSpec(res, NOTIFY, 'post');
    expectOperationOutcome(res, 'RESOURCE_TYPE_UNSUPPORTED');
    expect(res.text).not.toContain(FIXTURE_PATIENT_NAME);
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 400 for an X-Medplum-Interaction outside the contract', async () => {
    const { post } = signedApp();
    const res = await post(imagingStudy('is-1'), { ...medplumHeaders, 'X-Medplum-Interaction': 'patch' });
    expect(res.status).toBe(400);
    expectOperationOutcome(res, 'REQUEST_INVALID');
  });

  it('keeps patient data and the Study Instance UID out of logs and responses', async () => {
    const { deps, post } = signedApp();
    const res = await post(imagingStudy('is-1', '3'), medplumHeaders);
    const everything = deps.logLines.join('') + res.text;
    expect(everything).not.toContain(FIXTURE_PATIENT_NAME);
    expect(everything).not.toContain(FIXTURE_STUDY_UID);
    expect(everything).not.toContain('ACC-778812');
    expect(deps.logLines.join('')).toContain('notification handled');
  });
});

describe('webhook authentication (WEBHOOK_SECRET set)', () => {
  it('answers 401 for a missing signature', async () => {
    const { deps, post } = signedApp();
    const res = await post(imagingStudy('is-1'), { 'X-Signature': '' }).unset('X-Signature');
    expect(res.status).toBe(401);
    expectMatchesSpec(res, NOTIFY, 'post');
    expectOperationOutcome(res, 'SIGNATURE_INVALID');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 401 for a signature made with another key or over other bytes', async () => {
    const { deps, post } = signedApp();
    const body = JSON.stringify(imagingStudy('is-1'));
    expect((await post(imagingStudy('is-1'), { 'X-Signature': sign(body, 'another-secret') })).status).toBe(401);
    // Same JSON, different bytes: the signature covers the exact body, not its meaning.
    expect((await post(imagingStudy('is-1'), { 'X-Signature': sign(JSON.stringify(imagingStudy('is-1'), null, 2)) })).status).toBe(401);
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 401 for a wrong signature before looking at the body', async () => {
    const { post } = signedApp();
    const res = await post(undefined, { 'X-Signature': 'ab'.repeat(32), 'Content-Type': 'text/plain' });
    expect(res.status).toBe(401);
  });

  it('accepts the secret as a bearer token from senders that cannot sign (HAPI channel.header)', async () => {
    const deps = createTestDeps({ env: { WEBHOOK_SECRET: SECRET } });
    const app = buildApp(deps);
    const ok = await request(app).put('/fhir/notify/ImagingStudy/is-9').set('Authorization', `Bearer ${SECRET}`)
      .type('application/fhir+json').send(JSON.stringify(imagingStudy('is-9')));
    expect(ok.status).toBe(202);
    const wrong = await request(app).put('/fhir/notify/ImagingStudy/is-9').set('Authorization', 'Bearer not-the-secret')
      .type('application/fhir+json').send(JSON.stringify(imagingStudy('is-9')));
    expect(wrong.status).toBe(401);
    expectMatchesSpec(wrong, PUT_PATH, 'put');
  });

  it('does not accept API_TOKEN on webhook routes', async () => {
    const deps = createTestDeps({ env: { WEBHOOK_SECRET: SECRET, API_TOKEN: 'api-token-123' } });
    const res = await request(buildApp(deps)).post(NOTIFY).set('Authorization', 'Bearer api-token-123');
    expect(res.status).toBe(401);
  });

  it('accepts unsigned notifications when no secret is configured', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).post(NOTIFY).type('application/fhir+json').send(JSON.stringify(imagingStudy('is-1')));
    expect(res.status).toBe(202);
  });
});

describe('replay protection', () => {
  const signAt = (seconds: number, text: string) => createHmac('sha256', SECRET).update(`${seconds}.${text}`).digest('hex');
  const postSignedAt = (app: ReturnType<typeof buildApp>, seconds: number, body: unknown) => {
    const text = JSON.stringify(body);
    return request(app).post(NOTIFY).set({
      'Content-Type': 'application/fhir+json', 'X-Signature-Timestamp': String(seconds), 'X-Signature': signAt(seconds, text),
      ...medplumHeaders,
    }).send(text);
  };

  it('accepts a signed timestamp within WEBHOOK_TIMESTAMP_TOLERANCE_S and refuses the same notification replayed later', async () => {
    const deps = createTestDeps({ env: { WEBHOOK_SECRET: SECRET, WEBHOOK_TIMESTAMP_TOLERANCE_S: '60' } });
    const app = buildApp(deps);
    const now = Math.floor(Date.now() / 1000);
    expect((await postSignedAt(app, now, imagingStudy('is-1'))).status).toBe(202);
    // A capture signed two minutes ago, replayed now: outside the 60 s window.
    const replayed = await postSignedAt(app, now - 120, imagingStudy('is-2'));
    expect(replayed.status).toBe(401);
    expectMatchesSpec(replayed, NOTIFY, 'post');
    expectOperationOutcome(replayed, 'SIGNATURE_INVALID');
    expect(replayed.body.issue[0].diagnostics).toBe('X-Signature-Timestamp outside the replay window');
    expect(deps.enqueue.calls.map((c) => c.study.imagingStudyId)).toEqual(['is-1']);
  });

  it('with WEBHOOK_REQUIRE_TIMESTAMP=true refuses a body-only signature', async () => {
    const { deps, post } = signedApp({ WEBHOOK_REQUIRE_TIMESTAMP: 'true' });
    const res = await post(imagingStudy('is-1'), medplumHeaders);
    expect(res.status).toBe(401);
    expect(res.body.issue[0].diagnostics).toBe('X-Signature-Timestamp missing');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('enqueues nothing for a topic notification whose event numbers went backwards', async () => {
    const { deps, post } = signedApp();
    expect((await post(subscriptionStatusBundle({ events: [{ eventNumber: 7, focus: 'ImagingStudy/is-7/_history/1' }] }))).status).toBe(202);
    expect((await post(subscriptionStatusBundle({ events: [{ eventNumber: 8, focus: 'ImagingStudy/is-8/_history/1' }] }))).status).toBe(202);
    // The first one, replayed: the same event seen again is a plain duplicate.
    const replay = await post(subscriptionStatusBundle({ events: [{ eventNumber: 7, focus: 'ImagingStudy/is-7/_history/1' }] }));
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ outcome: 'duplicate', jobs: [], ignoredEntries: 1 });
    expectMatchesSpec(replay, NOTIFY, 'post');
    // An older event number that names something new enqueues nothing either: it asks FHIR_URL instead.
    const behind = await post(subscriptionStatusBundle({ events: [{ eventNumber: 3, focus: 'ImagingStudy/is-3/_history/1' }] }));
    expect(behind.status).toBe(202);
    expect(behind.body).toMatchObject({ outcome: 'reconciliation-requested', reconciliation: 'event-behind', jobs: [] });
    expectMatchesSpec(behind, NOTIFY, 'post');
    expect(deps.enqueue.calls.map((c) => c.study.imagingStudyId)).toEqual(['is-7', 'is-8']);
    expect(deps.reconciliations).toEqual(['event-behind']);
  });
});

describe('POST /fhir/notify: body handling', () => {
  it('answers 400 JSON_MALFORMED for broken JSON', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).post(NOTIFY).type('application/fhir+json').send('{"resourceType": "ImagingStudy",');
    expect(res.status).toBe(400);
    expectMatchesSpec(res, NOTIFY, 'post');
    expectOperationOutcome(res, 'JSON_MALFORMED');
  });

  it.each(['text/plain', 'application/xml', 'application/fhir+xml', 'application/json; charset=iso-8859-1'])(
    'answers 415 for %s with a body', async (type) => {
      const res = await request(buildApp(createTestDeps())).post(NOTIFY).set('Content-Type', type).send(JSON.stringify(imagingStudy('is-1')));
      expect(res.status).toBe(415);
      expectMatchesSpec(res, NOTIFY, 'post');
      expectOperationOutcome(res, 'UNSUPPORTED_MEDIA_TYPE');
    },
  );

  it('answers 415 for a compressed body', async () => {
    const res = await request(buildApp(createTestDeps())).post(NOTIFY)
      .set({ 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }).send('x');
    expect(res.status).toBe(415);
    expectOperationOutcome(res, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 415 for a body without any content type', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).post(NOTIFY).set('Content-Type', '').send(Buffer.from(JSON.stringify(imagingStudy('is-1'))));
    expect(res.status).toBe(415);
  });

  it.each(['application/json', 'application/json; charset=utf-8', 'application/fhir+json;charset=UTF-8'])('accepts %s', async (type) => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).post(NOTIFY).set('Content-Type', type).send(JSON.stringify(imagingStudy('is-1')));
    expect(res.status).toBe(202);
  });

  it('answers 413 past BODY_LIMIT_BYTES, before enqueueing anything', async () => {
    const deps = createTestDeps({ env: { BODY_LIMIT_BYTES: '1024' } });
    const big = { ...imagingStudy('is-1'), description: 'x'.repeat(2000) };
    const res = await request(buildApp(deps)).post(NOTIFY).type('application/fhir+json').send(JSON.stringify(big));
    expect(res.status).toBe(413);
    expectMatchesSpec(res, NOTIFY, 'post');
    expectOperationOutcome(res, 'PAYLOAD_TOO_LARGE');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 400 for JSON that is no notification (contract or parser)', async () => {
    const res = await request(buildApp(createTestDeps())).post(NOTIFY).type('application/json').send('[1,2,3]');
    expect(res.status).toBe(400);
    expectMatchesSpec(res, NOTIFY, 'post');
    expectOperationOutcome(res, 'REQUEST_INVALID');
    const bundle = await request(buildApp(createTestDeps())).post(NOTIFY).type('application/json')
      .send(JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [] }));
    expect(bundle.status).toBe(400);
    expectOperationOutcome(bundle, 'NOTIFICATION_INVALID');
  });

  it('answers 503 when the queue cannot take the job, so the sender retries', async () => {
    const deps = createTestDeps();
    deps.enqueue.failWith = new DependencyUnavailableError('redis');
    const res = await request(buildApp(deps)).post(NOTIFY).type('application/fhir+json').send(JSON.stringify(imagingStudy('is-1')));
    expect(res.status).toBe(503);
    expectMatchesSpec(res, NOTIFY, 'post');
  });
});

describe('POST /fhir/notify: R4 criteria subscription without payload', () => {
  it.each([[undefined], ['text/plain'], ['application/fhir+json']])('accepts an empty body (content type %s) and asks for a search', async (type) => {
    const { deps, post } = signedApp();
    const res = await post(undefined, type ? { 'Content-Type': type } : {});
    expect(res.status).toBe(202);
    expectMatchesSpec(res, NOTIFY, 'post');
    expect(res.body).toMatchObject({ outcome: 'reconciliation-requested', reconciliation: 'empty-notification', jobs: [] });
    expect(deps.reconciliations).toEqual(['empty-notification']);
    expect(deps.enqueue.calls).toEqual([]);
  });
});

describe('PUT/DELETE /fhir/notify/ImagingStudy/{id}: HAPI rest-hook with payload', () => {
  it('enqueues the study named by the path', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).put('/fhir/notify/ImagingStudy/is-9').type('application/fhir+json')
      .send(JSON.stringify(imagingStudy('is-9', '2')));
    expect(res.status).toBe(202);
    expectMatchesSpec(res, PUT_PATH, 'put');
    expect(deps.enqueue.calls).toEqual([{ study: { imagingStudyId: 'is-9', studyInstanceUid: FIXTURE_STUDY_UID }, trigger: 'fhir-notification' }]);
  });

  it('answers 400 when the body id differs from the path id', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).put('/fhir/notify/ImagingStudy/is-9').type('application/fhir+json')
      .send(JSON.stringify(imagingStudy('is-10')));
    expect(res.status).toBe(400);
    expectMatchesSpec(res, PUT_PATH, 'put');
    expectOperationOutcome(res, 'NOTIFICATION_INVALID');
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('answers 422 for another resource type and 400 for an invalid id', async () => {
    const app = buildApp(createTestDeps());
    const other = await request(app).put('/fhir/notify/ImagingStudy/is-9').type('application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Observation', id: 'is-9' }));
    expect(other.status).toBe(422);
    expectMatchesSpec(other, PUT_PATH, 'put');
    const badId = await request(app).put('/fhir/notify/ImagingStudy/a_b').type('application/fhir+json').send('{}');
    expect(badId.status).toBe(400);
    expectMatchesSpec(badId, PUT_PATH, 'put');
  });

  it('acknowledges a DELETE with 200 and no job', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).delete('/fhir/notify/ImagingStudy/is-9');
    expect(res.status).toBe(200);
    expectMatchesSpec(res, PUT_PATH, 'delete');
    expect(deps.enqueue.calls).toEqual([]);
  });
});

describe('POST /fhir/notify: topic-based Bundles', () => {
  it('R4 backport id-only: enqueues the focus', async () => {
    const { deps, post } = signedApp();
    const res = await post(backportBundle({
      events: [{ eventNumber: 1, focus: `${FHIR_BASE}/ImagingStudy/is-1/_history/2` }],
      entries: [idOnlyEntry('ImagingStudy/is-1')],
    }));
    expect(res.status).toBe(202);
    expectMatchesSpec(res, NOTIFY, 'post');
    expect(deps.enqueue.calls).toEqual([{ study: { imagingStudyId: 'is-1' }, trigger: 'fhir-notification' }]);
  });

  it('R4 backport empty payload: asks for a search', async () => {
    const { deps, post } = signedApp();
    const res = await post(backportBundle({ events: [{ eventNumber: 1 }] }));
    expect(res.status).toBe(202);
    expect(deps.reconciliations).toEqual(['empty-notification']);
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('R5 full-resource: enqueues with the Study Instance UID from the entry', async () => {
    const { deps, post } = signedApp();
    const res = await post(subscriptionStatusBundle({
      events: [{ eventNumber: 12, focus: 'ImagingStudy/is-2' }],
      entries: [resourceEntry(imagingStudy('is-2', '5'))],
    }));
    expect(res.status).toBe(202);
    expect(deps.enqueue.calls).toEqual([{ study: { imagingStudyId: 'is-2', studyInstanceUid: FIXTURE_STUDY_UID }, trigger: 'fhir-notification' }]);
  });

  it('handshake and heartbeat: 200, recorded, nothing enqueued', async () => {
    const { deps, post } = signedApp();
    const handshake = await post(subscriptionStatusBundle({ type: 'handshake' }));
    expect(handshake.status).toBe(200);
    expect(handshake.body.outcome).toBe('status-recorded');
    expectMatchesSpec(handshake, NOTIFY, 'post');
    const heartbeat = await post(backportBundle({ type: 'heartbeat' }));
    expect(heartbeat.status).toBe(200);
    expect(deps.log.statuses).toEqual([
      { subscription: 'Subscription/r5-sub', type: 'handshake' },
      { subscription: 'Subscription/imaging-sub', type: 'heartbeat' },
    ]);
    expect(deps.enqueue.calls).toEqual([]);
  });

  it('event gap: requests reconciliation and still enqueues what arrived', async () => {
    const { deps, post } = signedApp();
    await post(subscriptionStatusBundle({ events: [{ eventNumber: 1, focus: 'ImagingStudy/a' }] })).expect(202);
    const res = await post(subscriptionStatusBundle({ events: [{ eventNumber: 4, focus: 'ImagingStudy/b' }] }));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ outcome: 'enqueued', reconciliation: 'event-gap' });
    expectMatchesSpec(res, NOTIFY, 'post');
    expect(deps.reconciliations).toEqual(['event-gap']);
    expect(deps.enqueue.calls.map((c) => c.study.imagingStudyId)).toEqual(['a', 'b']);
  });

  it('duplicate Bundle delivery: enqueued once', async () => {
    const { deps, post } = signedApp();
    const bundle = subscriptionStatusBundle({ events: [{ eventNumber: 7, focus: 'ImagingStudy/is-3/_history/1' }] });
    await post(bundle).expect(202);
    const again = await post(bundle);
    expect(again.status).toBe(200);
    expect(again.body.outcome).toBe('duplicate');
    expect(deps.enqueue.calls).toHaveLength(1);
  });

  it('Bundle about other resource types: 200, ignored entries counted', async () => {
    const { deps, post } = signedApp();
    const res = await post(subscriptionStatusBundle({
      events: [{ eventNumber: 1, focus: 'Encounter/enc-1' }],
      entries: [resourceEntry({ resourceType: 'Encounter', id: 'enc-1', status: 'finished' })],
    }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ outcome: 'ignored', jobs: [], ignoredEntries: 1 });
    expect(deps.enqueue.calls).toEqual([]);
  });
});

describe('POST /fhir/notify: byte order mark', () => {
  it('accepts JSON preceded by a UTF-8 byte order mark, signed over the exact bytes', async () => {
    const deps = createTestDeps({ env: { WEBHOOK_SECRET: SECRET } });
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(imagingStudy('is-1')))]);
    const signature = createHmac('sha256', SECRET).update(bytes).digest('hex');
    // superagent would JSON-serialize a Buffer under a JSON content type: send the bytes untouched.
    const res = await request(buildApp(deps)).post(NOTIFY).set({ 'Content-Type': 'application/fhir+json', 'X-Signature': signature })
      .serialize((body: unknown) => body as string).send(bytes);
    expect(res.status).toBe(202);
    expect(deps.enqueue.calls).toHaveLength(1);
  });
});

describe('query strings on webhook URLs', () => {
  it('lets a notification through when the sender adds its own query parameters', async () => {
    const deps = createTestDeps();
    const res = await request(buildApp(deps)).post(`${NOTIFY}?sender=hapi-1`).type('application/fhir+json').send(JSON.stringify(imagingStudy('is-1')));
    expect(res.status).toBe(202);
  });
});
