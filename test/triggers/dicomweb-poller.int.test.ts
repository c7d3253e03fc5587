import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/shared/logger.ts';
import { createDicomwebPoller } from '../../src/triggers/dicomweb-poller.ts';
import type { DicomJsonDataset } from '../../src/dicom/dicom-json.ts';
import type { StudyRequest } from '../../src/queue/study-request.ts';
import { openTestRedis } from '../support/redis.ts';

const study = (uid: string, count: number): DicomJsonDataset => ({
  '0020000D': { vr: 'UI', Value: [uid] },
  '00201208': { vr: 'IS', Value: [count] },
});

describe('DICOMweb poller (Redis-backed state)', () => {
  let redis: Redis;
  let prefix: string;
  let cleanup: () => Promise<void>;
  beforeEach(() => ({ redis, prefix, cleanup } = openTestRedis()));
  afterEach(() => cleanup());

  it('enqueues a study once its instance count is stable, and again only when it grows', async () => {
    let clock = Date.parse('2026-11-28T10:00:00Z');
    let pacs = [study('1.2.3', 10)];
    const queries: Record<string, string>[] = [];
    const requests: StudyRequest[] = [];
    const poller = createDicomwebPoller({
      searchStudies: async (q) => { queries.push(q); return pacs; },
      enqueueStudy: async (r) => { requests.push(r); return { jobId: 'j', created: true, rerunScheduled: false }; },
      redis, prefix, logger: createLogger({ level: 'silent' }), stableMs: 30_000, lookbackDays: 1, now: () => new Date(clock),
    });
    expect(await poller.pollOnce()).toBe(0); // first sighting: wait for stability
    clock += 31_000;
    expect(await poller.pollOnce()).toBe(1);
    clock += 31_000;
    expect(await poller.pollOnce()).toBe(0); // unchanged since enqueued
    pacs = [study('1.2.3', 12)];
    expect(await poller.pollOnce()).toBe(0); // grew: wait again
    clock += 31_000;
    expect(await poller.pollOnce()).toBe(1);
    expect(requests).toEqual([
      { study: { studyInstanceUid: '1.2.3' }, trigger: 'dicomweb-poll' },
      { study: { studyInstanceUid: '1.2.3' }, trigger: 'dicomweb-poll' },
    ]);
    expect(queries[0]).toMatchObject({ StudyDate: '20261127-20261128', offset: '0' });
  });
});
