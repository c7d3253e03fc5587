// storeResults against the fake misbehaving STOW server, through the real DICOMweb client.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebClient, type DicomwebClient } from '../../../src/dicom/dicomweb/dicomweb-client.ts';
import { buildDerivedImage } from '../../../src/dicom/writers/build-derived-image.ts';
import { buildReportSR } from '../../../src/dicom/writers/build-report-sr.ts';
import { buildSegmentation } from '../../../src/dicom/writers/build-segmentation.ts';
import type { DicomResultObject } from '../../../src/dicom/writers/result-common.ts';
import { storeResults } from '../../../src/dicom/dicomweb/store-results.ts';
import { AppError, DicomObjectInvalidError, StowRejectedError } from '../../../src/shared/errors.ts';
import { fakeReplies, startFakeStowServer, type FakeStowServer } from '../../support/stow-fake-server.ts';
import { maskFor, syntheticSource, testContext } from '../writers/synthetic-source.ts';

function resultObjects(): DicomResultObject[] {
  const source = syntheticSource({ slices: 2 });
  const context = testContext('store-job');
  const seg = buildSegmentation({
    source, context,
    segments: [{
      label: 'Liver', category: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' },
      type: { value: '10200004', scheme: 'SCT', meaning: 'Liver' }, algorithm: { name: 'UniMedVL', version: '0.1.0' },
      masks: [maskFor(16, 12, 0), maskFor(16, 12, 1)],
    }],
  });
  const sc = buildDerivedImage({ source, context, image: { rows: 4, columns: 4, format: 'GREY8', frames: [new Uint8Array(16)] } });
  const sr = buildReportSR({ source, context, reportText: 'Draft report.' });
  return [seg, sc, sr];
}

describe('storeResults', () => {
  let server: FakeStowServer;
  let client: DicomwebClient;
  const objects = resultObjects();
  const sleeps: number[] = [];
  const deps = () => ({ stow: client, sleep: async (ms: number) => { sleeps.push(ms); } });

  beforeAll(async () => {
    server = await startFakeStowServer();
    client = createDicomwebClient({ baseUrl: server.baseUrl });
  });
  afterEach(() => {
    server.requests.length = 0;
    sleeps.length = 0;
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('stores every object in one request to the source study', async () => {
    const report = await storeResults(deps(), objects);
    expect(report.attempts).toBe(1);
    expect(report.instances.map((i) => i.outcome)).toEqual(['stored', 'stored', 'stored']);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.url).toBe(`/dicom-web/studies/${objects[0]!.studyInstanceUid}`);
    expect(server.requests[0]!.parts.map((p) => p.sopInstanceUid)).toEqual(objects.map((o) => o.sopInstanceUid));
    expect(server.requests[0]!.parts.map((p) => Buffer.from(p.bytes).equals(Buffer.from(objects[server.requests[0]!.parts.indexOf(p)]!.bytes)))).toEqual([true, true, true]);
  });

  it('resends only the instance that failed with A700 (out of resources) and keeps warnings', async () => {
    server.enqueue(fakeReplies.mixed([1], 0xa700, 0xb000));
    const report = await storeResults(deps(), objects, { baseDelayMs: 10 });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.parts.map((p) => p.sopInstanceUid)).toEqual([objects[1]!.sopInstanceUid]);
    expect(report.instances.map((i) => [i.role, i.outcome, i.warningReason])).toEqual([
      ['seg', 'stored-with-warning', 'B000'], ['derived-image', 'stored', undefined], ['report-sr', 'stored-with-warning', 'B000'],
    ]);
    expect(sleeps).toEqual([10]);
  });

  it('fails the job with STOW_REJECTED when one instance is refused permanently in a mixed answer', async () => {
    server.enqueue(fakeReplies.mixed([2], 0xc000));
    const error = await storeResults(deps(), objects).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StowRejectedError);
    expect((error as StowRejectedError).retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('fails on 409 with a permanent reason without retrying', async () => {
    server.enqueue(fakeReplies.conflict(0xa900));
    await expect(storeResults(deps(), objects)).rejects.toBeInstanceOf(StowRejectedError);
    expect(server.requests).toHaveLength(1);
  });

  it('waits as Retry-After says on 503 and succeeds on the next 200', async () => {
    server.enqueue(fakeReplies.unavailable(7));
    const report = await storeResults(deps(), objects, { baseDelayMs: 10 });
    expect(report.attempts).toBe(2);
    expect(sleeps).toEqual([7000]);
    expect(server.requests).toHaveLength(2);
  });

  it('honours Retry-After on 429 too, capped at the longest wait', async () => {
    server.enqueue({ kind: 'status', status: 429, headers: { 'retry-after': '2' } }, { kind: 'status', status: 429, headers: { 'retry-after': '3600' } });
    const report = await storeResults(deps(), objects, { maxDelayMs: 60_000 });
    expect(report.attempts).toBe(3);
    expect(sleeps).toEqual([2000, 60_000]);
  });

  it('retries a dropped connection with backoff', async () => {
    server.enqueue(fakeReplies.drop());
    const report = await storeResults(deps(), objects, { baseDelayMs: 25 });
    expect(report.attempts).toBe(2);
    expect(sleeps).toEqual([25]);
    expect(report.instances).toHaveLength(3);
  });

  it('gives up after the bounded attempts with a retryable error (the job retries later with the same UIDs)', async () => {
    server.enqueue(fakeReplies.unavailable(), fakeReplies.unavailable(), fakeReplies.unavailable());
    const error = await storeResults(deps(), objects, { maxAttempts: 3, baseDelayMs: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).retryable).toBe(true);
    expect(server.requests).toHaveLength(3);
    expect(sleeps).toEqual([5, 10]);
  });

  it('treats a duplicate-instance failure of our own deterministic instance as already stored', async () => {
    server.enqueue(fakeReplies.conflict(0x0111));
    const report = await storeResults(deps(), objects);
    expect(report.instances.map((i) => i.outcome)).toEqual(['already-stored', 'already-stored', 'already-stored']);
  });

  it('maps a 400 without a per-instance body to STOW_REJECTED', async () => {
    server.enqueue({ kind: 'status', status: 400, body: 'bad request' });
    await expect(storeResults(deps(), objects)).rejects.toBeInstanceOf(StowRejectedError);
  });

  it('never sends an object whose bytes do not match its identity', async () => {
    const tampered = { ...objects[0]!, bytes: objects[1]!.bytes };
    await expect(storeResults(deps(), [tampered])).rejects.toBeInstanceOf(DicomObjectInvalidError);
    await expect(storeResults(deps(), [objects[0]!, objects[0]!])).rejects.toBeInstanceOf(DicomObjectInvalidError);
    await expect(storeResults(deps(), [])).rejects.toBeInstanceOf(DicomObjectInvalidError);
    expect(server.requests).toHaveLength(0);
  });
});
