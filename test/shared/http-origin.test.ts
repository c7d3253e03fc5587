import { describe, expect, it } from 'vitest';
import { httpOriginOf, parseConfiguredOrigin } from '../../src/shared/http-origin.ts';

describe('httpOriginOf', () => {
  it('normalizes scheme, host and port', () => {
    expect(httpOriginOf('HTTP://PACS.Example:80/dicom-web')).toBe('http://pacs.example');
    expect(httpOriginOf('https://pacs.example:443/x')).toBe('https://pacs.example');
    expect(httpOriginOf('https://pacs.example:8443/x')).toBe('https://pacs.example:8443');
    expect(httpOriginOf('http://pacs.example./dicom-web')).toBe('http://pacs.example');
    expect(httpOriginOf('http://0x7f.1:8042/dicom-web')).toBe('http://127.0.0.1:8042');
    expect(httpOriginOf('http://[::1]:8042/')).toBe('http://[::1]:8042');
  });

  it('keeps origins that differ in scheme, host or port apart', () => {
    const base = httpOriginOf('http://127.0.0.1:8042/dicom-web');
    expect(httpOriginOf('https://127.0.0.1:8042/dicom-web')).not.toBe(base);
    expect(httpOriginOf('http://127.0.0.1:8043/dicom-web')).not.toBe(base);
    expect(httpOriginOf('http://127.0.0.1.evil.example:8042/dicom-web')).not.toBe(base);
  });

  it('has no origin for userinfo, other schemes and garbage', () => {
    expect(httpOriginOf('http://127.0.0.1:8042@127.0.0.1:9999/dicom-web')).toBeUndefined();
    expect(httpOriginOf('http://user:pass@pacs.example/')).toBeUndefined();
    expect(httpOriginOf('http://@pacs.example/')).toBe('http://pacs.example');
    expect(httpOriginOf('ftp://pacs.example/')).toBeUndefined();
    expect(httpOriginOf('file:///etc/passwd')).toBeUndefined();
    expect(httpOriginOf('not a url')).toBeUndefined();
    expect(httpOriginOf('/relative/path')).toBeUndefined();
  });
});

describe('parseConfiguredOrigin', () => {
  it('accepts an origin alone, with or without a trailing slash', () => {
    expect(parseConfiguredOrigin('https://PACS2.example:8443')).toBe('https://pacs2.example:8443');
    expect(parseConfiguredOrigin('https://pacs2.example/')).toBe('https://pacs2.example');
  });

  it('refuses paths, queries, userinfo', () => {
    expect(parseConfiguredOrigin('https://pacs2.example/dicom-web')).toBeUndefined();
    expect(parseConfiguredOrigin('https://pacs2.example/?a=1')).toBeUndefined();
    expect(parseConfiguredOrigin('https://u@pacs2.example')).toBeUndefined();
  });
});
