import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.ts';
import { createReconciler } from '../../src/triggers/reconciler.ts';
import type { StudyRequest } from '../../src/queue/study-request.ts';

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
          ? [{ id: 'a', lastUpdated: '2026-11-28T09:30:00.000Z' }, { id: 'b', lastUpdated: '2026-11-28T09:45:00.000Z' }]
          : [{ id: 'c' }];
      },
      enqueueStudy: async (r) => { requests.push(r); return { jobId: 'x', created: true, rerunScheduled: false }; },
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
    // The second search starts just before the newest change the server reported, not at the local clock.
    expect(sinces.map((d) => d.toISOString())).toEqual(['2026-11-28T09:00:00.000Z', '2026-11-28T09:44:59.999Z']);
    expect(requests.map((r) => r.study.imagingStudyId)).toEqual(['a', 'b', 'c']);
    expect(requests.every((r) => r.trigger === 'reconcile')).toBe(true);
  });
});
