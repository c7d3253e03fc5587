import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.ts';
import { createReconciler, type ReconciledStudy } from '../../src/triggers/reconciler.ts';
import type { StudyRequest } from '../../src/queue/study-request.ts';

function memoryVersions() {
  const versions = new Map<string, string>();
  return {
    versions,
    imagingStudyVersion: async (id: string) => versions.get(id),
    recordImagingStudyVersion: async (id: string, versionId: string) => void versions.set(id, versionId),
  };
}

describe('reconciler', () => {
  it('enqueues studies updated since the last run and coalesces overlapping requests', async () => {
    const sinces: Date[] = [];
    const requests: StudyRequest[] = [];
    let clock = Date.parse('2026-11-28T10:00:00Z');
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const reconciler = createReconciler({
      searchUpdatedSince: async (since) => {
        sinces.push(since);
        if (sinces.length === 1) await gate;
        return sinces.length === 1
          ? [{ id: 'a', versionId: '1', lastUpdated: '2026-11-28T09:30:00.000Z' }, { id: 'b', versionId: '1', lastUpdated: '2026-11-28T09:45:00.000Z' }]
          : [{ id: 'b', versionId: '1', lastUpdated: '2026-11-28T09:45:00.000Z' }, { id: 'c' }];
      },
      enqueueStudy: async (r) => { requests.push(r); return { jobId: 'x', created: true, rerunScheduled: false }; },
      versions: memoryVersions(),
      logger: createLogger({ level: 'silent' }),
      initialLookbackMs: 3_600_000,
      now: () => new Date(clock),
    });
    const first = reconciler.request();
    clock += 1000;
    const second = reconciler.request();
    const third = reconciler.request();
    release();
    expect(await first).toBe(3);
    expect(await second).toBe(3);
    expect(await third).toBe(3);
    // The second search starts at the newest change the server reported (inclusive), not at the local
    // clock; the study seen again there is skipped by its version.
    expect(sinces.map((d) => d.toISOString())).toEqual(['2026-11-28T09:00:00.000Z', '2026-11-28T09:45:00.000Z']);
    expect(requests.map((r) => r.study.imagingStudyId)).toEqual(['a', 'b', 'c']);
    expect(requests.every((r) => r.trigger === 'reconcile')).toBe(true);
  });

  it('converges: an unchanged study is never enqueued again, a new version once, and dead letters are replayed each run', async () => {
    let current: ReconciledStudy[] = [{ id: 'same', versionId: '3', lastUpdated: '2026-11-28T09:00:00.000Z' }];
    const versions = memoryVersions();
    versions.versions.set('same', '3'); // a notification's run completed this version before the restart
    const requests: StudyRequest[] = [];
    let replays = 0;
    const reconciler = createReconciler({
      searchUpdatedSince: async () => current,
      enqueueStudy: async (r) => { requests.push(r); return { jobId: 'x', created: true, rerunScheduled: false }; },
      versions,
      replayDeadLetters: async () => { replays += 1; return 0; },
      logger: createLogger({ level: 'silent' }),
      initialLookbackMs: 3_600_000,
      now: () => new Date('2026-11-28T10:00:00Z'),
    });
    for (let cycle = 0; cycle < 10; cycle += 1) expect(await reconciler.request()).toBe(0);
    current = [...current, { id: 'changed', versionId: '1', lastUpdated: '2026-11-28T09:10:00.000Z' }];
    for (let cycle = 0; cycle < 10; cycle += 1) await reconciler.request();
    expect(requests.map((r) => r.study.imagingStudyId)).toEqual(['changed']);
    expect(replays).toBe(20);
  });
});
