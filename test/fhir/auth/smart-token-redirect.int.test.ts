// The token request carries a signed client assertion: a redirect from the token endpoint is not
// followed (UPSTREAM_REDIRECT_REFUSED), so the assertion never reaches the server named in Location.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smartBackendAuth } from '../../../src/fhir/auth/smart-backend-auth.ts';
import { UpstreamRedirectRefusedError } from '../../../src/shared/errors.ts';
import { startRecordingDicomwebServer, type RecordingServer } from '../../support/recording-dicomweb-server.ts';

describe('SMART token endpoint redirects', () => {
  let stranger: RecordingServer;
  let tokenEndpoint: RecordingServer;
  beforeAll(async () => {
    stranger = await startRecordingDicomwebServer({ basePath: '/token', answer: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_token":"stolen"}' }) });
    tokenEndpoint = await startRecordingDicomwebServer({ basePath: '/token', answer: () => ({ status: 307, headers: { location: `${stranger.baseUrl}` } }) });
  });
  afterAll(async () => {
    await Promise.all([stranger?.stop(), tokenEndpoint?.stop()]);
  });

  it('refuses the redirect and sends the assertion nowhere else', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const auth = smartBackendAuth({
      tokenUrl: tokenEndpoint.baseUrl, clientId: 'plugin', algorithm: 'ES384', scopes: ['system/ImagingStudy.rs'],
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    const error = await auth.authorization().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamRedirectRefusedError);
    expect(error).toMatchObject({ code: 'UPSTREAM_REDIRECT_REFUSED', status: 307, retryable: false });
    expect(tokenEndpoint.requests).toHaveLength(1);
    expect(stranger.requests).toEqual([]);
  });
});
