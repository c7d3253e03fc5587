import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dicomwebTrust } from '../../src/config/dicomweb-trust.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { ConfigInvalidError } from '../../src/shared/errors.ts';

const keysOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as Error).message).not.toContain('s3cret-token');
    return (error as ConfigInvalidError).keys;
  }
  return [];
};

describe('DICOMweb trust settings', () => {
  it('allows only the origin of DICOMWEB_URL by default, with the DICOMWEB_* credentials', () => {
    const trust = dicomwebTrust(loadConfig({ DICOMWEB_URL: 'http://PACS:8042/dicom-web', DICOMWEB_TOKEN: 's3cret-token' }));
    expect(trust.allowedOrigins).toEqual(['http://pacs:8042']);
    expect([...trust.credentials]).toEqual([['http://pacs:8042', { type: 'bearer', token: 's3cret-token' }]]);
  });

  it('allows nothing when neither DICOMWEB_URL nor DICOMWEB_ALLOWED_ORIGINS is set', () => {
    expect(dicomwebTrust(loadConfig({})).allowedOrigins).toEqual([]);
  });

  it('adds the listed origins, normalized, with credentials of their own from JSON (environment) or a mapping (CONFIG_FILE)', () => {
    const trust = dicomwebTrust(loadConfig({
      DICOMWEB_URL: 'http://pacs:8042/dicom-web', DICOMWEB_USERNAME: 'svc', DICOMWEB_PASSWORD: 'pw',
      DICOMWEB_ALLOWED_ORIGINS: 'https://Archive.example:443, https://vna.example:8443/',
      DICOMWEB_ORIGIN_CREDENTIALS: JSON.stringify({ 'https://archive.example': { token: 's3cret-token' } }),
    }));
    expect(trust.allowedOrigins).toEqual(['http://pacs:8042', 'https://archive.example', 'https://vna.example:8443']);
    expect(trust.credentials.get('http://pacs:8042')).toEqual({ type: 'basic', username: 'svc', password: 'pw' });
    expect(trust.credentials.get('https://archive.example')).toEqual({ type: 'bearer', token: 's3cret-token' });
    expect(trust.credentials.has('https://vna.example:8443')).toBe(false);
  });

  it('names the key of a bad origin, a credential for an origin not allowed, a second credential for DICOMWEB_URL, bad JSON', () => {
    expect(keysOf({ DICOMWEB_ALLOWED_ORIGINS: 'https://archive.example/dicom-web' })).toEqual(['DICOMWEB_ALLOWED_ORIGINS']);
    expect(keysOf({ DICOMWEB_ALLOWED_ORIGINS: 'https://pacs@archive.example' })).toEqual(['DICOMWEB_ALLOWED_ORIGINS']);
    expect(keysOf({ DICOMWEB_URL: 'http://pacs@other:8042/dicom-web' })).toEqual(['DICOMWEB_URL']);
    expect(keysOf({ DICOMWEB_ORIGIN_CREDENTIALS: JSON.stringify({ 'https://archive.example': { token: 's3cret-token' } }) }))
      .toEqual(['DICOMWEB_ORIGIN_CREDENTIALS']);
    expect(keysOf({
      DICOMWEB_URL: 'http://pacs:8042/dicom-web', DICOMWEB_TOKEN: 's3cret-token',
      DICOMWEB_ORIGIN_CREDENTIALS: JSON.stringify({ 'http://pacs:8042': { token: 's3cret-token' } }),
    })).toEqual(['DICOMWEB_ORIGIN_CREDENTIALS']);
    expect(keysOf({ DICOMWEB_ORIGIN_CREDENTIALS: '{"https://archive.example": {"token": "s3cret-token"' })).toEqual(['DICOMWEB_ORIGIN_CREDENTIALS']);
    expect(keysOf({ DICOMWEB_ALLOWED_ORIGINS: 'https://a.example', DICOMWEB_ORIGIN_CREDENTIALS: '{"https://a.example": {"tokn": "s3cret-token"}}' }))
      .toEqual(['DICOMWEB_ORIGIN_CREDENTIALS']);
  });

  it('reads per-origin credentials from a CONFIG_FILE mapping', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trust-config-'));
    try {
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, [
        'DICOMWEB_ALLOWED_ORIGINS: https://vna.example:8443',
        'DICOMWEB_ORIGIN_CREDENTIALS:',
        '  "https://vna.example:8443": { username: svc, password: pw }',
      ].join('\n'));
      const trust = dicomwebTrust(loadConfig({ CONFIG_FILE: file }));
      expect(trust.allowedOrigins).toEqual(['https://vna.example:8443']);
      expect(trust.credentials.get('https://vna.example:8443')).toEqual({ type: 'basic', username: 'svc', password: 'pw' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
