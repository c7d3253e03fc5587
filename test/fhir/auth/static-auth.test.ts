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
