// WADO-RS, QIDO-RS and STOW-RS over https: through a TLS-terminating proxy in front of a real Orthanc,
// on the same undici stack as http:. The proxy's certificate is self-signed: trusted only when its CA is
// given (DICOMWEB_CA_FILE in the service), otherwise refused with a stable, non-retryable code.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebAgent } from '../../../src/dicom/dicomweb/dicomweb-agent.ts';
import { createDicomwebClient, type DicomPart } from '../../../src/dicom/dicomweb/dicomweb-client.ts';
import { Tag, firstString } from '../../../src/dicom/dicom-json.ts';
import { startService } from '../../../src/main.ts';
import { ConfigInvalidError, UpstreamTlsUntrustedError } from '../../../src/shared/errors.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { ensureFixtures } from '../../support/fixtures.ts';
import { copyWithFreshUids, type CopiedFile } from '../../support/orthanc-files.ts';
import { startOrthanc, type OrthancServer } from '../../support/orthanc.ts';
import { openTestRedis } from '../../support/redis.ts';
import { startTlsProxy, type TlsProxy } from '../../support/tls-proxy.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function collect(parts: AsyncIterable<DicomPart>): Promise<DicomPart[]> {
  const out: DicomPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

describe('DICOMweb client over TLS', () => {
  let orthanc: OrthancServer;
  let proxy: TlsProxy;
  let work: string;
  let series: CopiedFile[];

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'dicomweb-tls-'));
    const { samples } = await ensureFixtures();
    orthanc = await startOrthanc();
    series = await copyWithFreshUids([samples.CT_small.path, samples.CT_small.path, samples.CT_small.path], path.join(work, 'series'), { sameSeries: true });
    await orthanc.upload(series.map((f) => f.path));
    proxy = await startTlsProxy(orthanc.baseUrl);
  });

  afterAll(async () => {
    await proxy?.stop();
    await orthanc?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('retrieves a series byte-identical, queries and stores over https when the CA is trusted', async () => {
    expect(proxy.baseUrl.startsWith('https://')).toBe(true);
    const client = createDicomwebClient({ baseUrl: proxy.baseUrl, dispatcher: createDicomwebAgent({ extraCa: proxy.certificatePem }) });
    try {
      const { studyInstanceUid, seriesInstanceUid } = series[0]!;
      const listed = await client.searchSeries(studyInstanceUid);
      expect(listed.map((s) => firstString(s, Tag.SeriesInstanceUID))).toEqual([seriesInstanceUid]);
      const parts = await collect(client.retrieveSeries(studyInstanceUid, seriesInstanceUid));
      expect(parts.map((p) => sha256(p.bytes)).sort()).toEqual(series.map((f) => sha256(readFileSync(f.path))).sort());

      const { samples } = await ensureFixtures();
      const fresh = await copyWithFreshUids([samples.MR_small.path], path.join(work, 'stow'));
      const stored = await client.storeInstances(fresh[0]!.studyInstanceUid, [readFileSync(fresh[0]!.path)]);
      expect(stored.instances.map((i) => i.outcome)).toEqual(['stored']);
      const back = await collect(client.retrieveStudy(fresh[0]!.studyInstanceUid));
      expect(back.map((p) => sha256(p.bytes))).toEqual([sha256(readFileSync(fresh[0]!.path))]);
    } finally {
      await client.close();
    }
  });

  it('refuses a server whose certificate is not trusted: UPSTREAM_TLS_UNTRUSTED, not retried, nothing reaches the server', async () => {
    const before = proxy.forwarded();
    const client = createDicomwebClient({ baseUrl: proxy.baseUrl });
    try {
      const { studyInstanceUid, seriesInstanceUid } = series[0]!;
      const error = await collect(client.retrieveSeries(studyInstanceUid, seriesInstanceUid)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpstreamTlsUntrustedError);
      expect(error).toMatchObject({ code: 'UPSTREAM_TLS_UNTRUSTED', retryable: false });
      await expect(client.ping()).rejects.toBeInstanceOf(UpstreamTlsUntrustedError);
      expect(proxy.forwarded()).toBe(before);
    } finally {
      await client.close();
    }
  });

  it('the service trusts DICOMWEB_CA_FILE: ready with it, DICOMweb not ready without it, an unreadable file stops start-up', async () => {
    const redis = openTestRedis();
    const env = { PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, DICOMWEB_URL: proxy.baseUrl, ALLOW_UNAUTHENTICATED: 'true', RECONCILE_INTERVAL_MS: '0' };
    const logger = createLogger({ level: 'silent' });
    try {
      const trusting = await startService('api', { ...env, DICOMWEB_CA_FILE: proxy.certificateFile }, { logger });
      try {
        const ready = await fetch(`http://127.0.0.1:${trusting.port}/readyz`);
        expect(await ready.json()).toMatchObject({ status: 'ready', checks: { dicomweb: 'ok' } });
      } finally {
        await trusting.stop();
      }
      const doubting = await startService('api', env, { logger });
      try {
        const notReady = await fetch(`http://127.0.0.1:${doubting.port}/readyz`);
        expect(notReady.status).toBe(503);
        expect(JSON.stringify(await notReady.json())).toContain('dicomweb');
      } finally {
        await doubting.stop();
      }
      const error = await startService('api', { ...env, DICOMWEB_CA_FILE: path.join(work, 'missing.pem') }, { logger }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigInvalidError);
      expect((error as ConfigInvalidError).keys).toEqual(['DICOMWEB_CA_FILE']);
    } finally {
      await redis.cleanup();
    }
  });
});
