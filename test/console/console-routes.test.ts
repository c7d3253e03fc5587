import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createTestDeps, sampleRun } from '../http/support/fake-deps.ts';

// The console's routes without a browser: open mode, login throttling, the cancel button, headers.

const QUEUED = 'run-1764000000005-0000000e';

function cookieOf(res: request.Response, name: string): string {
  const header = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
  if (!header) throw new Error(`no ${name} cookie`);
  return header.split(';')[0]!;
}

describe('console routes', () => {
  it('is open without API_TOKEN (ALLOW_UNAUTHENTICATED), as the API is, and still checks CSRF on forms', async () => {
    const deps = createTestDeps({ env: { ALLOW_UNAUTHENTICATED: 'true' } });
    deps.runStore.runs.push(sampleRun({ id: QUEUED, state: 'queued', stage: 'analyze', outcome: null, results: null, endedAt: null, attempts: [] }));
    const app = buildApp(deps);
    const page = await request(app).get(`/ui/runs/${QUEUED}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.text).toContain('Cancel run');
    expect(page.text).not.toContain('Log out');
    const cookie = cookieOf(page, 'unimedvl_console');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;

    const forged = await request(app).post(`/ui/runs/${QUEUED}/cancel`).set('Cookie', cookie).type('form').send({ csrf: 'nope' });
    expect(forged.status).toBe(403);
    expect(deps.runStore.runs[0]!.state).toBe('queued');

    const cancelled = await request(app).post(`/ui/runs/${QUEUED}/cancel`).set('Cookie', cookie).type('form').send({ csrf });
    expect(cancelled.status).toBe(303);
    expect(cancelled.headers.location).toBe(`/ui/runs/${QUEUED}?notice=cancelled`);
    expect(deps.runStore.runs[0]).toMatchObject({ state: 'failed', errorCode: 'RUN_CANCELLED' });
  });

  it('refuses logins from an address after five failures, even with the right token', async () => {
    const app = buildApp(createTestDeps({ env: { API_TOKEN: 'right-token' } }));
    const attempt = async (token: string) => {
      const form = await request(app).get('/ui/login');
      const nonce = /name="nonce" value="([^"]+)"/.exec(form.text)![1]!;
      return request(app).post('/ui/login').set('Cookie', cookieOf(form, 'unimedvl_console_login')).type('form').send({ nonce, token });
    };
    for (let i = 0; i < 5; i++) expect((await attempt('wrong')).status).toBe(401);
    const refused = await attempt('right-token');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['set-cookie']?.toString() ?? '').not.toContain('unimedvl_console=');
  });

  it('refuses a login form posted without its nonce cookie (login CSRF), and sends unauthenticated pages to the login', async () => {
    const app = buildApp(createTestDeps({ env: { API_TOKEN: 'right-token' } }));
    expect((await request(app).post('/ui/login').type('form').send({ nonce: 'x', token: 'right-token' })).status).toBe(403);
    const list = await request(app).get('/ui?state=failed');
    expect(list.status).toBe(303);
    expect(list.headers.location).toBe('/ui/login');
    expect((await request(app).get('/ui').set('Authorization', 'Bearer wrong')).status).toBe(303);
    const asset = await request(app).get('/ui/assets/console.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toContain('javascript');
  });
});
