import { Writable } from 'node:stream';
import request from 'supertest';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { startService } from '../../src/main.ts';
import type { ResultStage } from '../../src/pipeline/result-stage-contract.ts';
import { AuthenticationNotConfiguredError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { openTestRedis } from '../support/redis.ts';
import { createTestDeps } from './support/fake-deps.ts';

/** The worker takes no job in this test; a stage that is never called keeps the model out of it. */
const idleResultStage: ResultStage = {
  analysisVersion: 'unused',
  tasksFor: () => [],
  analyze: () => Promise.reject(new Error('not called in this test')),
};

const SECRETS = { API_TOKEN: 'api-token-123', WEBHOOK_SECRET: 'webhook-secret-1' };

describe('an API without authentication is a knowing choice', () => {
  it.each([
    ['neither secret', {}, ['API_TOKEN', 'WEBHOOK_SECRET']],
    ['no API_TOKEN', { WEBHOOK_SECRET: SECRETS.WEBHOOK_SECRET }, ['API_TOKEN']],
    ['no WEBHOOK_SECRET', { API_TOKEN: SECRETS.API_TOKEN }, ['WEBHOOK_SECRET']],
    ['ALLOW_UNAUTHENTICATED=false', { ALLOW_UNAUTHENTICATED: 'false' }, ['API_TOKEN', 'WEBHOOK_SECRET']],
  ])('serve and api refuse to start with %s, naming the missing keys', async (_what, env, missing) => {
    for (const mode of ['serve', 'api'] as const) {
      const started = startService(mode, { ...env, PORT: '0', HOST: '127.0.0.1' });
      await expect(started).rejects.toBeInstanceOf(AuthenticationNotConfiguredError);
      await expect(started).rejects.toMatchObject({ code: 'AUTH_NOT_CONFIGURED', detail: missing.join(', ') });
    }
  });

  it('refuses a value of ALLOW_UNAUTHENTICATED other than true or false', async () => {
    await expect(startService('api', { ALLOW_UNAUTHENTICATED: 'yes' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', keys: ['ALLOW_UNAUTHENTICATED'] });
  });

  it('with ALLOW_UNAUTHENTICATED=true it starts, warns once at start-up, and says so in /readyz', async () => {
    const redis = openTestRedis();
    onTestFinished(() => redis.cleanup());
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } });
    const service = await startService('api', { ALLOW_UNAUTHENTICATED: 'true', PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix,
      RECONCILE_INTERVAL_MS: '0' }, { logger: createLogger({ level: 'info', destination }) });
    onTestFinished(() => service.stop());
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string; unauthenticated?: string[] }).filter((l) => l.level === 40);
    expect(warnings).toEqual([expect.objectContaining({ msg: 'serving without authentication (ALLOW_UNAUTHENTICATED=true)', unauthenticated: ['API_TOKEN', 'WEBHOOK_SECRET'] })]);

    const ready = await fetch(`http://127.0.0.1:${service.port}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; warnings?: string[] };
    expect(body.status).toBe('ready');
    expect(body.warnings).toEqual([expect.stringMatching(/^unauthenticated: API_TOKEN is not set/), expect.stringMatching(/^unauthenticated: WEBHOOK_SECRET is not set/)]);
    // And it is open indeed: that is what the operator chose.
    expect((await fetch(`http://127.0.0.1:${service.port}/jobs`)).status).toBe(200);
  });

  it('a worker serves no HTTP and needs neither secret', async () => {
    const redis = openTestRedis();
    onTestFinished(() => redis.cleanup());
    const service = await startService('worker', { QUEUE_PREFIX: redis.prefix, RECONCILE_INTERVAL_MS: '0', EXECUTION_PROVIDER: 'cpu' },
      { logger: createLogger({ level: 'silent' }), results: idleResultStage });
    expect(service.port).toBeUndefined();
    await service.stop();
  });

  it('/readyz has no warnings once both secrets are set', async () => {
    const ready = await request(buildApp(createTestDeps({ env: SECRETS }))).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.warnings).toBeUndefined();
    const open = await request(buildApp(createTestDeps({ env: { API_TOKEN: SECRETS.API_TOKEN, ALLOW_UNAUTHENTICATED: 'true' } }))).get('/readyz');
    expect(open.body.warnings).toEqual([expect.stringMatching(/WEBHOOK_SECRET is not set/)]);
  });
});
