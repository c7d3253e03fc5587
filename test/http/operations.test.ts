import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { DependencyUnavailableError, FhirPermissionMissingError } from '../../src/shared/errors.ts';
import { createTestDeps, sampleRun } from './support/fake-deps.ts';
import { document, expectMatchesSpec, expectOperationOutcome } from './support/spec-response.ts';

describe('GET /healthz', () => {
  it('answers 200 without credentials even when API_TOKEN is set', async () => {
    const app = buildApp(createTestDeps({ env: { API_TOKEN: 'api-token-123' } }));
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expectMatchesSpec(res, '/healthz', 'get');
  });
});

describe('GET /readyz', () => {
  it('answers 200 when every dependency check passes', async () => {
    const deps = createTestDeps({
      env: { API_TOKEN: 'api-token-123', WEBHOOK_SECRET: 'webhook-secret-1' },
      readiness: [{ dependency: 'redis', check: async () => {} }, { dependency: 'fhir', check: async () => {} }],
    });
    const res = await request(buildApp(deps)).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { redis: 'ok', fhir: 'ok' } });
    expectMatchesSpec(res, '/readyz', 'get');
  });

  it('answers 503 naming the failing dependency, without the failure message', async () => {
    const deps = createTestDeps({
      readiness: [
        { dependency: 'redis', check: async () => {} },
        { dependency: 'fhir', check: async () => { throw new Error('connect ECONNREFUSED 10.0.0.7:443 for Ana'); } },
      ],
    });
    const res = await request(buildApp(deps)).get('/readyz');
    expect(res.status).toBe(503);
    expectMatchesSpec(res, '/readyz', 'get');
    expectOperationOutcome(res, 'DEPENDENCY_UNAVAILABLE');
    expect(res.body.issue[0].diagnostics).toBe('fhir');
    expect(res.text).not.toContain('ECONNREFUSED');
  });

  it('names the missing FHIR permissions (scopes, never a message from elsewhere)', async () => {
    const deps = createTestDeps({
      readiness: [
        { dependency: 'redis', check: async () => {} },
        { dependency: 'fhir', check: async () => { throw new FhirPermissionMissingError(['system/Media.cuds', 'system/StructureDefinition.rs']); } },
      ],
    });
    const res = await request(buildApp(deps)).get('/readyz');
    expect(res.status).toBe(503);
    expectMatchesSpec(res, '/readyz', 'get');
    expect(res.body.issue[0].diagnostics).toBe('fhir (missing system/Media.cuds system/StructureDefinition.rs)');
  });

  it('counts a check that never answers as failing', async () => {
    const deps = createTestDeps({
      readiness: [
        { dependency: 'dicomweb', check: () => new Promise<void>(() => {}) },
        { dependency: 'redis', check: async () => { throw new Error('down'); } },
      ],
    });
    const res = await request(buildApp(deps)).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.issue[0].diagnostics).toBe('dicomweb, redis');
  });
});

describe('GET /metrics', () => {
  it('exposes request durations by route template, jobs by queue and state, queue depth, stalled and dead-lettered runs', async () => {
    const deps = createTestDeps();
    deps.runStore.runs.push(sampleRun({ id: 'a', state: 'completed' }), sampleRun({ id: 'b', state: 'queued' }),
      sampleRun({ id: 'c', state: 'dead-letter' }), sampleRun({ id: 'd', state: 'failed' }));
    deps.runStore.stalled = 2;
    deps.runStore.queues = { 'study-analysis': { completed: 1, failed: 1, waiting: 1, delayed: 1 }, 'study-publish': { delayed: 3, active: 1 } };
    const app = buildApp(deps);
    await request(app).get('/jobs/a').expect(200);
    await request(app).get('/jobs/zzz').expect(404);
    await request(app).get('/no/such/route').expect(404);
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expectMatchesSpec(res, '/metrics', 'get');
    expect(res.text).toMatch(/unimedvl_http_request_duration_seconds_count\{method="GET",route="\/jobs\/\{id\}",status_code="200"\} 1/);
    expect(res.text).toMatch(/unimedvl_http_request_duration_seconds_count\{method="GET",route="\/jobs\/\{id\}",status_code="404"\} 1/);
    expect(res.text).toMatch(/route="unmatched",status_code="404"/);
    expect(res.text).not.toContain('zzz');
    expect(res.text).toMatch(/unimedvl_jobs\{queue="study-analysis",state="completed"\} 1/);
    expect(res.text).toMatch(/unimedvl_jobs\{queue="study-analysis",state="failed"\} 1/);
    expect(res.text).toMatch(/unimedvl_queue_depth\{queue="study-analysis"\} 2/);
    expect(res.text).toMatch(/unimedvl_queue_depth\{queue="study-publish"\} 3/);
    expect(res.text).toMatch(/unimedvl_runs_stalled_total\{kind="analysis"\} 2/);
    expect(res.text).toMatch(/# TYPE unimedvl_runs_stalled_total counter/);
    expect(res.text).toMatch(/unimedvl_runs_dead_letter\{kind="analysis"\} 1/);
  });

  it('still answers when the job store is down', async () => {
    const deps = createTestDeps();
    deps.runStore.countsError = new Error('redis down');
    const res = await request(buildApp(deps)).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('unimedvl_http_request_duration_seconds');
    expect(res.text).not.toMatch(/unimedvl_queue_depth\{/);
    expect(res.text).not.toMatch(/unimedvl_runs_dead_letter\{/);
    expect(res.text).not.toMatch(/unimedvl_runs_stalled_total\{/);
  });

  it('can be built twice on one registry', () => {
    const deps = createTestDeps();
    buildApp(deps);
    expect(() => buildApp(deps)).not.toThrow();
  });
});

describe('GET /openapi.json', () => {
  it('serves the contract as JSON', async () => {
    const res = await request(buildApp(createTestDeps({ env: { API_TOKEN: 'api-token-123' } }))).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(document)));
    expect(res.body.openapi).toBe('3.1.0');
  });
});

describe('unknown routes and unexpected errors', () => {
  it('answers 404 ROUTE_NOT_FOUND with an OperationOutcome', async () => {
    const res = await request(buildApp(createTestDeps())).post('/fhir/other');
    expect(res.status).toBe(404);
    expectOperationOutcome(res, 'ROUTE_NOT_FOUND');
  });

  it('answers 500 INTERNAL without the message of an unknown error, in the body or the logs', async () => {
    const deps = createTestDeps();
    deps.runStore.getRun = async () => { throw new Error('lookup failed for patient Ana Souza'); };
    const res = await request(buildApp(deps)).get('/jobs/job-1');
    expect(res.status).toBe(500);
    expectMatchesSpec(res, '/jobs/{id}', 'get');
    expectOperationOutcome(res, 'INTERNAL');
    expect(res.text).not.toContain('Ana Souza');
    expect(deps.logLines.join('')).toContain('INTERNAL');
    expect(deps.logLines.join('')).not.toContain('Ana Souza');
  });

  it('maps an AppError thrown by a dependency to its own status', async () => {
    const deps = createTestDeps();
    deps.runStore.listRuns = async () => { throw new DependencyUnavailableError('redis'); };
    const res = await request(buildApp(deps)).get('/jobs');
    expect(res.status).toBe(503);
    expectMatchesSpec(res, '/jobs', 'get');
    expectOperationOutcome(res, 'DEPENDENCY_UNAVAILABLE');
  });
});

describe('contract coverage', () => {
  it('serves every operation of the contract (none falls through to 404 ROUTE_NOT_FOUND)', async () => {
    const app = buildApp(createTestDeps());
    const concrete = (path: string) => path.replace('{studyInstanceUid}', '1.2.3').replace('{id}', 'x1');
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((m) => ['get', 'put', 'post', 'delete'].includes(m)).map((method) => ({ path, method })));
    expect(operations.length).toBeGreaterThanOrEqual(10);
    for (const { path, method } of operations) {
      const res = await (request(app) as unknown as Record<string, (p: string) => request.Test>)[method]!(concrete(path));
      const code = res.body?.issue?.[0]?.details?.coding?.[0]?.code;
      expect(code, `${method} ${path}`).not.toBe('ROUTE_NOT_FOUND');
      expectMatchesSpec(res, path, method);
    }
  });
});
