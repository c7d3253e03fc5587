import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE_BASE } from '../../src/fhir/profile-urls.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { ConfigInvalidError } from '../../src/shared/errors.ts';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.EXECUTION_PROVIDER).toBe('auto');
    expect(config.DICOMWEB_URL).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the bad keys and never their values', () => {
    const secretish = 'ftp://sekrit-value.example';
    let caught: unknown;
    try {
      loadConfig({ PORT: 'eighty', FHIR_URL: secretish, EXECUTION_PROVIDER: 'tpu' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigInvalidError);
    const error = caught as ConfigInvalidError;
    expect(error.keys).toEqual(['EXECUTION_PROVIDER', 'FHIR_URL', 'PORT']);
    expect(error.message).not.toContain('sekrit');
    expect(error.message).not.toContain('eighty');
  });

  it('parses lists and numbers', () => {
    const config = loadConfig({ SERIES_MODALITIES: 'CT, MR', PORT: '9000' });
    expect(config.SERIES_MODALITIES).toEqual(['CT', 'MR']);
    expect(config.PORT).toBe(9000);
  });

  it('requires DICOMweb username and password together', () => {
    expect(() => loadConfig({ DICOMWEB_USERNAME: 'orthanc' })).toThrow(ConfigInvalidError);
  });

  it('FHIR profile base defaults to the project canonical base; FHIR_INSTALL_PROFILES is a flag', () => {
    expect(loadConfig({}).FHIR_PROFILE_BASE).toBe(DEFAULT_PROFILE_BASE);
    expect(loadConfig({ FHIR_PROFILE_BASE: 'https://fhir.example.org/ai/' }).FHIR_PROFILE_BASE).toBe('https://fhir.example.org/ai');
    expect(() => loadConfig({ FHIR_PROFILE_BASE: 'urn:x' })).toThrow(ConfigInvalidError);
    expect(loadConfig({}).FHIR_INSTALL_PROFILES).toBe(false);
    expect(loadConfig({ FHIR_INSTALL_PROFILES: 'true' }).FHIR_INSTALL_PROFILES).toBe(true);
    expect(() => loadConfig({ FHIR_INSTALL_PROFILES: 'yes' })).toThrow(ConfigInvalidError);
  });

  it('FHIR_SMART_SCOPES: unset means the derived defaults (undefined here); a list splits on spaces or commas', () => {
    expect(loadConfig({}).FHIR_SMART_SCOPES).toBeUndefined();
    expect(loadConfig({ FHIR_SMART_SCOPES: '' }).FHIR_SMART_SCOPES).toBeUndefined();
    expect(loadConfig({ FHIR_SMART_SCOPES: 'system/Task.cus system/Media.cuds,system/Device.cs' }).FHIR_SMART_SCOPES)
      .toEqual(['system/Task.cus', 'system/Media.cuds', 'system/Device.cs']);
  });

  it('FHIR_PERFORMER_REFERENCE must name an Organization', () => {
    expect(loadConfig({ FHIR_PERFORMER_REFERENCE: 'Organization/rad-1' }).FHIR_PERFORMER_REFERENCE).toBe('Organization/rad-1');
    expect(() => loadConfig({ FHIR_PERFORMER_REFERENCE: 'Practitioner/1' })).toThrow(ConfigInvalidError);
  });
});
