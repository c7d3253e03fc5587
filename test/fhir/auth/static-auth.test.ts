import { describe, expect, it } from 'vitest';
import { basicAuth } from '../../../src/fhir/auth/basic-auth.ts';
import { bearerAuth } from '../../../src/fhir/auth/bearer-auth.ts';

describe('static FHIR auth', () => {
  it('sends a bearer token', async () => {
    expect(await bearerAuth('abc').authorization()).toBe('Bearer abc');
  });
  it('sends UTF-8 basic credentials', async () => {
    expect(await basicAuth('user', 'pässword').authorization()).toBe(`Basic ${Buffer.from('user:pässword').toString('base64')}`);
  });
});

describe('createFhirAuth', () => {
  it('builds the scheme the settings name', async () => {
    const { createFhirAuth } = await import('../../../src/fhir/auth/create-fhir-auth.ts');
    expect(createFhirAuth({ kind: 'none' })).toBeUndefined();
    expect(await createFhirAuth({ kind: 'bearer', token: 't' })!.authorization()).toBe('Bearer t');
    expect(await createFhirAuth({ kind: 'basic', username: 'u', password: 'p' })!.authorization()).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const smart = createFhirAuth({ kind: 'smart', tokenUrl: 'http://127.0.0.1:9/token', clientId: 'c', privateKeyPem: 'x', algorithm: 'RS384', scopes: [] })!;
    expect(typeof smart.invalidate).toBe('function');
  });
});
