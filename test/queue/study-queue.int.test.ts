import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/shared/logger.ts';
import { DependencyUnavailableError, StudyNotFoundError } from '../../src/shared/errors.ts';
import { createJobStore } from '../../src/queue/job-store.ts';
import { createEnqueueStudy } from '../../src/queue/study-producer.ts';
import { createStudyQueue, type StudyQueue } from '../../src/queue/study-queue.ts';
import { startStudyWorker, type StudyProcessor, type StudyWorker } from '../../src/queue/study-worker.ts';
import { openTestRedis } from '../support/redis.ts';

const logger = createLogger({ level: 'silent' });
const result = { series: [], timingsMs: {} };

describe('study queue on real Redis', () => {
  let redis: Redis;
  let prefix: string;
  let cleanup: () => Promise<void>;
  let queue: StudyQueue;
  let worker: StudyWorker | undefined;

  beforeEach(() => {
    ({ redis, prefix, cleanup } = openTestRedis());
    queue = createStudyQueue(redis, prefix);
  });
  afterEach(async () => {
    await worker?.close(1000);
    worker = undefined;
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await cleanup();
  });

  const producer = (debounceMs = 0) =>
    createEnqueueStudy({ queue, redis, prefix, attempts: 3, backoffMs: 20, debounceMs });

  const start = (processor: StudyProcessor, enqueue = producer()) => {
    worker = startStudyWorker({
      connection: redis, prefix, concurrency: 1, processor, logger,
      onRerunRequested: async (data) => { await enqueue({ study: data.study, trigger: 'reconcile' }); },
    });
    return worker;
  };

  const waitFor = async (predicate: () => Promise<boolean>) => {
    for (let i = 0; i < 400; i += 1) {
      if (await predicate()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('condition not reached');
  };

  it('folds twenty concurrent duplicate requests into one job', async () => {
    const enqueue = producer(60_000);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => enqueue({ study: { imagingStudyId: 'abc' }, trigger: 'fhir-notification' })),
    );
    expect(new Set(results.map((r) => r.jobId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await queue.getJobCountByTypes('delayed', 'waiting')).toBe(1);
    expect(results[0]!.jobId).toMatch(/^study-[0-9a-f]{32}$/);
  });

  it('runs a study again, once, when it changed while its job was active', async () => {
    const enqueue = producer();
    let runs = 0;
    let release!: () => void;
    const firstRunBlocked = new Promise<void>((r) => { release = r; });
    start(async () => {
      runs += 1;
      if (runs === 1) await firstRunBlocked;
      return result;
    }, enqueue);
    const first = await enqueue({ study: { imagingStudyId: 's1' }, trigger: 'api' });
    await waitFor(async () => (await queue.getJobState(first.jobId)) === 'active');
    const during = await Promise.all([1, 2, 3].map(() => enqueue({ study: { imagingStudyId: 's1' }, trigger: 'api' })));
    expect(during.every((r) => r.rerunScheduled)).toBe(true);
    release();
    await waitFor(async () => runs === 2 && (await queue.getJobState(first.jobId)) === 'completed');
    await new Promise((r) => setTimeout(r, 200));
    expect(runs).toBe(2);
  });

  it('retries transient failures with backoff and keeps the attempt history', async () => {
    let calls = 0;
    start(async () => {
      calls += 1;
      if (calls < 3) throw new DependencyUnavailableError('dicomweb');
      return result;
    });
    const { jobId } = await producer()({ study: { studyInstanceUid: '1.2.3' }, trigger: 'api' });
    await waitFor(async () => (await queue.getJobState(jobId)) === 'completed');
    const view = await createJobStore(queue).getJob(jobId);
    expect(view?.attemptsMade).toBe(3);
    expect(view?.attempts.map((a) => [a.outcome, a.errorCode ?? null])).toEqual([
      ['failed', 'DEPENDENCY_UNAVAILABLE'],
      ['failed', 'DEPENDENCY_UNAVAILABLE'],
      ['completed', null],
    ]);
  });

  it('fails permanent errors at once with their code and no retry', async () => {
    let calls = 0;
    start(async () => {
      calls += 1;
      throw new StudyNotFoundError();
    });
    const { jobId } = await producer()({ study: { studyInstanceUid: '1.2.4' }, trigger: 'api' });
    await waitFor(async () => (await queue.getJobState(jobId)) === 'failed');
    const view = await createJobStore(queue).getJob(jobId);
    expect(calls).toBe(1);
    expect(view?.failureCode).toBe('STUDY_NOT_FOUND');
    expect(view?.attempts).toHaveLength(1);
    const failed = await createJobStore(queue).listJobs({ state: 'failed', limit: 10, offset: 0 });
    expect(failed.map((j) => j.id)).toEqual([jobId]);
  });

  it('replaces a finished job when the study is triggered again', async () => {
    let runs = 0;
    const enqueue = producer();
    start(async () => { runs += 1; return result; }, enqueue);
    const first = await enqueue({ study: { imagingStudyId: 'again' }, trigger: 'api' });
    await waitFor(async () => (await queue.getJobState(first.jobId)) === 'completed');
    const second = await enqueue({ study: { imagingStudyId: 'again' }, trigger: 'api' });
    expect(second).toEqual({ jobId: first.jobId, created: true, rerunScheduled: false });
    await waitFor(async () => runs === 2);
  });

  it('lets the active job finish on close', async () => {
    let finished = false;
    const w = start(async () => {
      await new Promise((r) => setTimeout(r, 300));
      finished = true;
      return result;
    });
    const { jobId } = await producer()({ study: { imagingStudyId: 'graceful' }, trigger: 'api' });
    await waitFor(async () => (await queue.getJobState(jobId)) === 'active');
    await w.close(5000);
    worker = undefined;
    expect(finished).toBe(true);
    expect(await queue.getJobState(jobId)).toBe('completed');
  });

  it('hands a job stopped by shutdown back to the queue instead of failing it', async () => {
    let aborted = false;
    const w = start(async ({ signal }) => {
      await new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new DOMException('This operation was aborted', 'AbortError'));
        }, { once: true });
      });
      return result;
    });
    const { jobId } = await producer()({ study: { imagingStudyId: 'shutdown' }, trigger: 'api' });
    await waitFor(async () => (await queue.getJobState(jobId)) === 'active');
    await w.close(50);
    worker = undefined;
    expect(aborted).toBe(true);
    const job = await queue.getJob(jobId);
    expect(['delayed', 'waiting']).toContain(await queue.getJobState(jobId));
    expect(job?.attemptsMade).toBe(0);
    expect(job?.failedReason ?? '').toBe('');
  });
});
