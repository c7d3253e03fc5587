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
    let pacs = [study('1.2.3', 10), study('1.2.4', 3)];
    const queries: Record<string, string>[] = [];
    const requests: StudyRequest[] = [];
    const poller = createDicomwebPoller({
      // A server that caps pages at one study, below the poller's page size.
      searchStudies: async (q) => { queries.push(q); return pacs.slice(Number(q.offset), Number(q.offset) + 1); },
      enqueueStudy: async (r) => { requests.push(r); return { jobId: 'j', created: true, rerunScheduled: false }; },
      redis, prefix, logger: createLogger({ level: 'silent' }), stableMs: 30_000, lookbackDays: 1, now: () => new Date(clock),
    });
    expect(await poller.pollOnce()).toBe(0); // first sighting: wait for stability
    clock += 31_000;
    expect(await poller.pollOnce()).toBe(2); // both stable now, the second one found on page two
    clock += 31_000;
    expect(await poller.pollOnce()).toBe(0); // unchanged since enqueued
    pacs = [study('1.2.3', 12), study('1.2.4', 3)];
    expect(await poller.pollOnce()).toBe(0); // grew: wait again
    clock += 31_000;
    expect(await poller.pollOnce()).toBe(1);
    expect(requests.map((r) => r.study.studyInstanceUid)).toEqual(['1.2.3', '1.2.4', '1.2.3']);
    expect(requests.every((r) => r.trigger === 'dicomweb-poll')).toBe(true);
    expect(queries[0]).toMatchObject({ StudyDate: '20261127-20261128', offset: '0' });
    expect(queries[1]).toMatchObject({ offset: '1' });
    // What it remembers per study expires once the study has left the window (1 day + 2 days of margin).
    const remembered = await redis.keys(`${prefix}:poller:*`);
    expect(remembered).toHaveLength(2);
    for (const key of remembered) {
      expect(key).not.toContain('1.2.3');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3 * 24 * 3600 * 1000);
    }
  });
});
