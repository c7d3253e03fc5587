import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { fhirAuth } from '../../src/main.ts';

describe('FHIR auth from configuration', () => {
  it('picks none, bearer, basic or SMART Backend Services from the keys that are set', async () => {
    expect(fhirAuth(loadConfig({}))).toBeUndefined();
    expect(await fhirAuth(loadConfig({ FHIR_TOKEN: 'token-12345678' }))!.authorization()).toBe('Bearer token-12345678');
    const basic = fhirAuth(loadConfig({ FHIR_USERNAME: 'svc', FHIR_PASSWORD: 'pw' }))!;
    expect(await basic.authorization()).toBe(`Basic ${Buffer.from('svc:pw').toString('base64')}`);

    const keyFile = join(mkdtempSync(join(tmpdir(), 'smart-')), 'key.pem');
    writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const smart = fhirAuth(loadConfig({
      FHIR_SMART_TOKEN_URL: 'http://127.0.0.1:9/token', FHIR_SMART_CLIENT_ID: 'unimedvl', FHIR_SMART_PRIVATE_KEY_FILE: keyFile, FHIR_TOKEN: 'ignored-123',
    }))!;
    expect(typeof smart.invalidate).toBe('function'); // token-based: SMART wins over a static token
  });
});
