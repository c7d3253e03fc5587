// DICOMweb requests carry the server's credentials, so a redirect is never followed, to another origin
// or its own: QIDO, WADO, STOW and ping end with UPSTREAM_REDIRECT_REFUSED (not retried) after exactly
// one request, and the recording stranger named in Location receives nothing.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebClient, type DicomwebClient } from '../../../src/dicom/dicomweb/dicomweb-client.ts';
import { UpstreamRedirectRefusedError } from '../../../src/shared/errors.ts';
import { ensureFixtures } from '../../support/fixtures.ts';
import { startRecordingDicomwebServer, type RecordingServer } from '../../support/recording-dicomweb-server.ts';

const TOKEN = 'dicomweb-token-1234';
const STUDY = '1.2.826.0.1.3680043.8.498.7001';
const SERIES = '1.2.826.0.1.3680043.8.498.7002';

describe('DICOMweb client and redirects', () => {
  let stranger: RecordingServer;
  let instance: Uint8Array;
  beforeAll(async () => {
    stranger = await startRecordingDicomwebServer();
    instance = readFileSync((await ensureFixtures()).samples.CT_small.path);
  });
  afterAll(async () => {
    await stranger?.stop();
  });

  async function expectRefused(client: DicomwebClient, configured: RecordingServer, status: number): Promise<void> {
    const calls: [string, () => Promise<unknown>][] = [
      ['searchStudies', () => client.searchStudies({ limit: 1 })],
      ['retrieveSeriesMetadata', () => client.retrieveSeriesMetadata(STUDY, SERIES)],
      ['retrieveSeries', async () => {
        for await (const part of client.retrieveSeries(STUDY, SERIES)) expect(part).toBeUndefined();
      }],
      ['storeInstances', () => client.storeInstances(STUDY, [instance])],
      ['ping', () => client.ping()],
    ];
    for (const [name, call] of calls) {
      const before = configured.requests.length;
      const error = await call().catch((e: unknown) => e);
      expect(error, `${name} ${status}`).toBeInstanceOf(UpstreamRedirectRefusedError);
      expect(error).toMatchObject({ code: 'UPSTREAM_REDIRECT_REFUSED', retryable: false, status, dependency: 'dicomweb' });
      expect((error as Error).message).not.toContain(STUDY);
      expect(configured.requests.length - before, name).toBe(1);
    }
  }

  it('does not follow a redirect from DICOMWEB_URL to another origin: the credentials never leave', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const configured = await startRecordingDicomwebServer({
        answer: (request) => ({ status, headers: { location: `${stranger.origin}${request.url}` } }),
      });
      const client = createDicomwebClient({ baseUrl: configured.baseUrl, auth: { type: 'bearer', token: TOKEN } });
      try {
        await expectRefused(client, configured, status);
        expect(configured.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
      } finally {
        await client.close();
        await configured.stop();
      }
    }
    expect(stranger.requests).toEqual([]);
  });

  it('does not follow a redirect within the same origin either', async () => {
    const configured = await startRecordingDicomwebServer({
      answer: (request) => (request.url.startsWith('/moved') ? { status: 200, body: '[]' } : { status: 307, headers: { location: `/moved${request.url}` } }),
    });
    const client = createDicomwebClient({ baseUrl: configured.baseUrl, auth: { type: 'basic', username: 'svc', password: 'pw' } });
    try {
      await expectRefused(client, configured, 307);
      expect(configured.requests.some((r) => r.url.startsWith('/moved'))).toBe(false);
    } finally {
      await client.close();
      await configured.stop();
    }
  });
});
