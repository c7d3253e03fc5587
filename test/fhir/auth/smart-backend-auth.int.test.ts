import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import { smartBackendAuth } from '../../../src/fhir/auth/smart-backend-auth.ts';
import { createFhirClient } from '../../../src/fhir/fhir-client.ts';
import { UpstreamHttpError } from '../../../src/shared/errors.ts';
import { startFhirServer, type FhirTestServer } from '../../support/fhir-server.ts';
import { startTokenServer, type TokenServer } from './smart-token-server.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const SCOPES = ['system/ImagingStudy.rs', 'system/DiagnosticReport.cu'];

describe('SMART Backend Services auth', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  async function setup(algorithm: 'RS384' | 'ES384', expiresIn?: number) {
    const keys = algorithm === 'RS384' ? rsa : ec;
    const tokens: TokenServer = await startTokenServer({ clientId: 'plugin', publicKey: keys.publicKey, algorithm, ...(expiresIn ? { expiresIn } : {}) });
    // The FHIR server accepts only the newest token issued.
    const fhir: FhirTestServer = await startFhirServer({ authorize: (header) => header === `Bearer ${tokens.issued.at(-1)}` });
    stops.push(() => fhir.stop(), () => tokens.stop());
    const auth = smartBackendAuth({
      tokenUrl: tokens.tokenUrl, clientId: 'plugin', algorithm, keyId: 'k1', scopes: SCOPES,
      privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    return { tokens, fhir, auth, client: createFhirClient({ baseUrl: fhir.baseUrl, auth }) };
  }

  for (const algorithm of ['RS384', 'ES384'] as const) {
    it(`gets a token with a verified ${algorithm} assertion and caches it`, async () => {
      const { tokens, client } = await setup(algorithm);
      await client.createIfNoneExist<Patient>({ resourceType: 'Patient' }, 'identifier=urn:t|1');
      await client.search('Patient', {});
      await Promise.all([client.search('Patient', {}), client.search('Patient', {})]);
      expect(tokens.rejections).toEqual([]);
      expect(tokens.issued).toEqual(['token-1']);
      const claims = tokens.assertions[0]!;
      expect(claims.aud).toBe(tokens.tokenUrl);
      expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(300);
      expect(claims.scope).toBe(SCOPES.join(' '));
    });
  }

  it('refreshes the token once after a 401 and retries', async () => {
    const { tokens, fhir, client } = await setup('RS384');
    await client.search('Patient', {});
    tokens.issued.push('revoked-by-server'); // the FHIR server now wants a token the client does not hold
    await client.search('Patient', {});
    expect(tokens.issued.at(-1)).toBe('token-3');
    expect(fhir.requests.map((r) => r.status)).toEqual([200, 401, 200]);
    expect(new Set(tokens.assertions.map((a) => a.jti)).size).toBe(2);
  });

  it('gives up after one refresh when the server keeps refusing', async () => {
    const tokens = await startTokenServer({ clientId: 'plugin', publicKey: rsa.publicKey, algorithm: 'RS384' });
    const fhir = await startFhirServer({ authorize: () => false });
    stops.push(() => fhir.stop(), () => tokens.stop());
    const client = createFhirClient({
      baseUrl: fhir.baseUrl,
      auth: smartBackendAuth({ tokenUrl: tokens.tokenUrl, clientId: 'plugin', algorithm: 'RS384', scopes: SCOPES, privateKey: rsa.privateKey }),
    });
    const error = await client.search('Patient', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect((error as UpstreamHttpError).status).toBe(401);
    expect(fhir.requests).toHaveLength(2);
    expect(tokens.issued).toHaveLength(2);
  });

  it('a wrong key is refused by the token endpoint and surfaces as a non-retryable error', async () => {
    const tokens = await startTokenServer({ clientId: 'plugin', publicKey: rsa.publicKey, algorithm: 'RS384' });
    stops.push(() => tokens.stop());
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const auth = smartBackendAuth({ tokenUrl: tokens.tokenUrl, clientId: 'plugin', algorithm: 'RS384', scopes: SCOPES, privateKey: other.privateKey });
    const error = await auth.authorization().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect((error as UpstreamHttpError).retryable).toBe(false);
    expect(tokens.rejections).toEqual(['signature']);
  });

  it('fetches a new token shortly before expiry', async () => {
    const tokens = await startTokenServer({ clientId: 'plugin', publicKey: ec.publicKey, algorithm: 'ES384', expiresIn: 120 });
    stops.push(() => tokens.stop());
    let clock = Date.now() - 61_000; // runs up to "now", so every assertion is valid by the real clock
    const auth = smartBackendAuth({ tokenUrl: tokens.tokenUrl, clientId: 'plugin', algorithm: 'ES384', scopes: SCOPES, privateKey: ec.privateKey, now: () => clock });
    expect(await auth.authorization()).toBe('Bearer token-1');
    clock += 59_000;
    expect(await auth.authorization()).toBe('Bearer token-1');
    clock += 2_000; // 61 s into a 120 s token: inside the 60 s refresh margin
    expect(await auth.authorization()).toBe('Bearer token-2');
  });
});
