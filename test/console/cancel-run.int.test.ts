import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEnqueuePublish, createRunControl } from '../../src/queue/replay-runs.ts';
import { createResultsStore } from '../../src/queue/results-store.ts';
import { createRunStore, type RunStore } from '../../src/queue/run-store.ts';
import { createStudyMemory } from '../../src/queue/study-memory.ts';
import { createEnqueueStudy } from '../../src/queue/study-producer.ts';
import { createPublishQueue, createStudyQueue, type PublishQueue, type StudyQueue } from '../../src/queue/study-queue.ts';
import { RunNotCancellableError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { openTestRedis } from '../support/redis.ts';

// Cancelling a queued run (the console's button and POST /jobs/{id}/cancel) on real Redis and BullMQ.
// No worker runs here, so an enqueued run stays queued until the test acts on it.

const retention = { retentionMs: 3_600_000, retentionCount: 1000 };
const UID = '1.2.826.0.1.3680043.8.498.77123';

describe('cancelling a queued run', () => {
  let redis: Redis;
  let prefix: string;
  let cleanup: () => Promise<void>;
  let queue: StudyQueue;
  let publishQueue: PublishQueue;
  let runs: RunStore;

  beforeEach(() => {
    ({ redis, prefix, cleanup } = openTestRedis());
    queue = createStudyQueue(redis, prefix);
    publishQueue = createPublishQueue(redis, prefix);
    runs = createRunStore(redis, prefix, retention);
  });
  afterEach(async () => {
    for (const q of [queue, publishQueue]) {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
    await cleanup();
  });

  const setup = (debounceMs: number) => {
    const enqueueStudy = createEnqueueStudy({ queue, redis, runs, memory: createStudyMemory(redis, prefix, { ttlMs: 3_600_000 }), debounceMs, retention });
    const control = createRunControl({
      runs, results: createResultsStore(redis, prefix, { ttlMs: 60_000, maxBytes: 1024 }), publishQueue,
      enqueuePublish: createEnqueuePublish(publishQueue, retention), enqueueStudy, logger: createLogger({ level: 'silent' }), studyQueue: queue,
    });
    return { enqueueStudy, control };
  };

  it.each([0, 60_000])('takes a waiting or debounced (delayed, %i ms) run out of the queue; it ends failed RUN_CANCELLED and can be replayed', async (debounceMs) => {
    const { enqueueStudy, control } = setup(debounceMs);
    const { jobId } = await enqueueStudy({ study: { studyInstanceUid: UID }, trigger: 'api' });
    expect((await runs.get(jobId))?.state).toBe('queued');
    expect(await queue.getJob(jobId)).toBeDefined();

    await control.cancel!(jobId);
    const run = await runs.get(jobId);
    expect(run).toMatchObject({ state: 'failed', errorCode: 'RUN_CANCELLED', retryable: false });
    expect(run?.endedAt).not.toBeNull();
    expect(run?.events.at(-1)).toMatchObject({ type: 'cancelled' });
    expect(await queue.getJob(jobId)).toBeUndefined();

    // Cancelled once is cancelled: a second cancel is refused. The study is free for a new run.
    await expect(control.cancel!(jobId)).rejects.toBeInstanceOf(RunNotCancellableError);
    const again = await enqueueStudy({ study: { studyInstanceUid: UID }, trigger: 'api' });
    expect(again.created).toBe(true);
    expect(again.jobId).not.toBe(jobId);
    // And it is replayable like any failed run (a new analysis run).
    await control.cancel!(again.jobId);
    const replay = await control.replay(jobId);
    expect(replay).toMatchObject({ replayed: jobId, stage: 'analyze' });
  });

  it('refuses a run that is not queued for analysis', async () => {
    const { enqueueStudy, control } = setup(0);
    const { jobId } = await enqueueStudy({ study: { studyInstanceUid: UID }, trigger: 'api' });
    await runs.update(jobId, { state: 'running' });
    await expect(control.cancel!(jobId)).rejects.toBeInstanceOf(RunNotCancellableError);
    expect(await queue.getJob(jobId)).toBeDefined();
    await expect(control.cancel!('run-1-00000000')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });
});
