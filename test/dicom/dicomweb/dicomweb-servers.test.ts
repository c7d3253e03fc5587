import { afterEach, describe, expect, it } from 'vitest';
import { createDicomwebServers, type DicomwebServers } from '../../../src/dicom/dicomweb/dicomweb-servers.ts';
import { EndpointNotAllowedError } from '../../../src/shared/errors.ts';

describe('createDicomwebServers', () => {
  let servers: DicomwebServers | undefined;
  afterEach(async () => {
    await servers?.closeAll();
  });

  it('opens clients for allowed origins only, compared after normalisation', () => {
    servers = createDicomwebServers({ allowedOrigins: ['http://pacs:8042', 'https://vna.example'] });
    expect(servers('http://PACS:8042/dicom-web')).toBeDefined();
    expect(servers('https://vna.example:443/wado')).toBeDefined();
    expect(servers.allows('http://pacs.:8042/dicom-web')).toBe(true);
    for (const refused of [
      'http://pacs:8043/dicom-web', 'https://pacs:8042/dicom-web', 'http://pacs.evil:8042/dicom-web',
      'http://pacs:8042@evil:8042/dicom-web', 'ftp://pacs:8042/', 'not a url',
    ]) {
      expect(servers.allows(refused), refused).toBe(false);
      expect(() => servers!(refused), refused).toThrow(EndpointNotAllowedError);
    }
  });

  it('refuses everything when no origin is allowed', () => {
    servers = createDicomwebServers({ allowedOrigins: [] });
    expect(() => servers!('http://127.0.0.1:8042/dicom-web')).toThrow(EndpointNotAllowedError);
  });

  it('reuses the client of a base and keeps at most 64 of them', () => {
    servers = createDicomwebServers({ allowedOrigins: ['http://pacs:8042'] });
    const first = servers('http://pacs:8042/p0');
    expect(servers('http://pacs:8042/p0')).toBe(first);
    for (let i = 1; i <= 64; i++) servers(`http://pacs:8042/p${i}`);
    expect(servers('http://pacs:8042/p64')).toBe(servers('http://pacs:8042/p64'));
    expect(servers('http://pacs:8042/p0')).not.toBe(first); // evicted, made again
  });
});
