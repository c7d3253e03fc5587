import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { PUBLISH_QUEUE, STUDY_QUEUE, type PublishJobData, type StudyJobData } from '../../src/queue/job-types.ts';
import { createEnqueuePublish, createRunControl } from '../../src/queue/replay-runs.ts';
import { createResultsStore } from '../../src/queue/results-store.ts';
import type { RunRecord } from '../../src/queue/run-record.ts';
import { createRunStore, type RunStore } from '../../src/queue/run-store.ts';
import { MAX_STALLS_PER_RUN, startStageWorker, type StageProcessor, type StageWorker } from '../../src/queue/stage-worker.ts';
import { createStudyLock } from '../../src/queue/study-lock.ts';
import { createStudyMemory } from '../../src/queue/study-memory.ts';
import { createEnqueueStudy } from '../../src/queue/study-producer.ts';
import { createPublishQueue, createStudyQueue, type PublishQueue, type StudyQueue } from '../../src/queue/study-queue.ts';
import { DependencyUnavailableError, ResultsTooLargeError, StudyNotFoundError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { hashStudyUid } from '../../src/shared/uids.ts';
import { openTestRedis } from '../support/redis.ts';

const logger = createLogger({ level: 'silent' });
const retention = { retentionMs: 3_600_000, retentionCount: 1000 };
const UID = '1.2.826.0.1.3680043.8.498.5551';

describe('runs on real Redis and BullMQ', () => {
  let redis: Redis;
  let prefix: string;
  let cleanup: () => Promise<void>;
  let queue: StudyQueue;
  let publishQueue: PublishQueue;
  let runs: RunStore;
  const workers: StageWorker[] = [];

  beforeEach(() => {
    ({ redis, prefix, cleanup } = openTestRedis());
    queue = createStudyQueue(redis, prefix);
    publishQueue = createPublishQueue(redis, prefix);
    runs = createRunStore(redis, prefix, retention);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(1000)));
    for (const q of [queue, publishQueue]) {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
    await cleanup();
  });

  const memory = () => createStudyMemory(redis, prefix, { ttlMs: 3_600_000 });
  const producer = (debounceMs = 0) => createEnqueueStudy({ queue, redis, runs, memory: memory(), debounceMs, retention });

  const analyzeWorker = (
    processor: StageProcessor<StudyJobData>, options: { windowMs?: number; lockRetryMs?: number; concurrency?: number; lockMs?: number; stalledCheckMs?: number } = {},
  ) => {
    const worker = startStageWorker<StudyJobData>({
      stage: 'analyze', queueName: STUDY_QUEUE, connection: redis, prefix, concurrency: options.concurrency ?? 1, processor, runs,
      lock: createStudyLock(redis, prefix, 5000), logger, lockMs: options.lockMs ?? 5000, stalledCheckMs: options.stalledCheckMs ?? 2000,
      lockRetryMs: options.lockRetryMs ?? 50,
      retry: { windowMs: options.windowMs ?? 60_000, firstDelayMs: 20, maxDelayMs: 40 },
      initRun: (id, data) => ({ id, kind: 'analysis', trigger: data.trigger, study: data.study, createdAt: data.requestedAt }),
      continueTo: createEnqueuePublish(publishQueue, retention),
      random: () => 0.5,
    });
    workers.push(worker);
    return worker;
  };
  const publishWorker = (processor: StageProcessor<PublishJobData>, windowMs: number) => {
    const worker = startStageWorker<PublishJobData>({
      stage: 'publish', queueName: PUBLISH_QUEUE, connection: redis, prefix, concurrency: 1, processor, runs,
      lock: createStudyLock(redis, prefix, 5000), logger, lockMs: 5000, stalledCheckMs: 2000, lockRetryMs: 50,
      retry: { windowMs, firstDelayMs: 20, maxDelayMs: 40 }, random: () => 0.5,
    });
    workers.push(worker);
    return worker;
  };

  const waitFor = async <T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> => {
    let value: T | undefined;
    for (let i = 0; i < 1200; i += 1) {
      value = await read();
      if (done(value)) return value;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`condition not reached: ${JSON.stringify(value)}`);
  };
  const ended = (id: string) => waitFor(() => runs.get(id), (r) => r !== undefined && ['completed', 'failed', 'dead-letter'].includes(r.state)) as Promise<RunRecord>;
  const idle = () => waitFor(async () => queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized'), (n) => n === 0);

  it('folds twenty concurrent duplicate requests into one run with a time-ordered id', async () => {
    const enqueue = producer(60_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => enqueue({ study: { imagingStudyId: 'abc' }, trigger: 'fhir-notification' })));
    expect(new Set(results.map((r) => r.jobId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await queue.getJobCountByTypes('delayed', 'waiting')).toBe(1);
    expect(results[0]!.jobId).toMatch(/^run-\d{13}-[0-9a-f]{8}$/);
    expect((await runs.get(results[0]!.jobId))?.state).toBe('queued');
  });

  it("keeps one request made while the study's run is active as exactly one next run, and keeps both runs' histories", async () => {
    const enqueue = producer();
    let calls = 0;
    let release!: () => void;
    const firstRunBlocked = new Promise<void>((r) => { release = r; });
    analyzeWorker({
      async run(ctx) {
        calls += 1;
        await ctx.note({ studyKey: hashStudyUid(UID) });
        if (calls === 1) await firstRunBlocked;
        return { end: { outcome: 'unchanged' } };
      },
    });
    const first = await enqueue({ study: { studyInstanceUid: UID }, trigger: 'api' });
    await waitFor(() => runs.get(first.jobId), (r) => r?.state === 'running');
    const during = await Promise.all([1, 2, 3].map(() => enqueue({ study: { studyInstanceUid: UID }, trigger: 'api' })));
    expect(during.every((r) => r.rerunScheduled && r.jobId === first.jobId)).toBe(true);
    release();
    const listed = await waitFor(() => runs.list({ studyKey: hashStudyUid(UID), limit: 10, offset: 0 }),
      (list) => list.length === 2 && list.every((r) => r.state === 'completed'));
    await idle();
    expect(calls).toBe(2);
    expect(listed.map((r) => r.id)).toContain(first.jobId);
    // Newest first, and the first run's record is still there with its attempt.
    expect(listed[1]!.id).toBe(first.jobId);
    expect(listed[1]!.attempts.map((a) => a.outcome)).toEqual(['completed']);
  });

  it('retries transient faults within the window and records every attempt', async () => {
    let calls = 0;
    analyzeWorker({
      async run() {
        calls += 1;
        if (calls < 3) throw new DependencyUnavailableError('dicomweb');
        return { end: { outcome: 'unchanged' }, engineCalls: 0 };
      },
    });
    const { jobId } = await producer()({ study: { studyInstanceUid: '1.2.3' }, trigger: 'api' });
    const run = await ended(jobId);
    expect(run.state).toBe('completed');
    expect(run.attempts.map((a) => [a.attempt, a.outcome, a.errorCode ?? null])).toEqual([
      [1, 'failed', 'DEPENDENCY_UNAVAILABLE'], [2, 'failed', 'DEPENDENCY_UNAVAILABLE'], [3, 'completed', null],
    ]);
    expect(run.attempts[0]!.nextAttemptAt).toBeDefined();
  });

  it('fails permanent errors at once with their code, no retry', async () => {
    let calls = 0;
    analyzeWorker({ async run() { calls += 1; throw new StudyNotFoundError(); } });
    const { jobId } = await producer()({ study: { studyInstanceUid: '1.2.4' }, trigger: 'api' });
    const run = await ended(jobId);
    expect(calls).toBe(1);
    expect(run).toMatchObject({ state: 'failed', errorCode: 'STUDY_NOT_FOUND', retryable: false });
    expect((await runs.list({ state: 'failed', limit: 10, offset: 0 })).map((r) => r.id)).toEqual([jobId]);
  });

  it('dead-letters a publish whose window ends on a transient fault; a replay publishes again from the same run, without analyzing', async () => {
    const outputs = createResultsStore(redis, prefix, { ttlMs: 60_000, maxBytes: 1024 * 1024 });
    let analyzes = 0;
    let publishes = 0;
    let publishUp = false;
    analyzeWorker({
      async run(ctx) {
        analyzes += 1;
        await outputs.put(ctx.runId, { manifest: { ok: true }, blobs: [new Uint8Array([1, 2, 3])] });
        await ctx.note({ studyKey: hashStudyUid(UID) });
        return { end: { next: 'publish' } };
      },
    });
    publishWorker({
      async run(ctx) {
        publishes += 1;
        if (!publishUp) throw new DependencyUnavailableError('fhir');
        expect((await outputs.get(ctx.data.runId))?.blobs[0]).toEqual(new Uint8Array([1, 2, 3]));
        return { end: { outcome: 'published' } };
      },
    }, 0);
    const enqueueStudy = producer();
    const { jobId } = await enqueueStudy({ study: { studyInstanceUid: UID }, trigger: 'api' });
    const dead = await ended(jobId);
    expect(dead).toMatchObject({ state: 'dead-letter', stage: 'publish', errorCode: 'DEPENDENCY_UNAVAILABLE', retryable: true });
    expect(dead.events.map((e) => e.type)).toEqual(['dead-lettered']);
    expect(await runs.deadLetters(10)).toEqual([jobId]);

    publishUp = true;
    const control = createRunControl({
      runs, results: outputs, publishQueue, enqueuePublish: createEnqueuePublish(publishQueue, retention), enqueueStudy, logger,
    });
    const replayed = await control.replayDeadLetters({ errorCode: 'DEPENDENCY_UNAVAILABLE', limit: 10 });
    expect(replayed).toEqual([{ jobId, replayed: jobId, stage: 'publish' }]);
    const done = await waitFor(() => runs.get(jobId), (r) => r?.state === 'completed');
    expect(done).toMatchObject({ outcome: 'published', errorCode: null });
    expect(analyzes).toBe(1);
    expect(publishes).toBe(2);
    expect(done!.attempts.map((a) => [a.stage, a.attempt, a.outcome])).toEqual([['analyze', 1, 'completed'], ['publish', 1, 'failed'], ['publish', 2, 'completed']]);
    expect(done!.events.map((e) => e.type)).toEqual(['dead-lettered', 'replayed']);
    expect(await runs.deadLetters(10)).toEqual([]);
    await expect(control.replay(jobId)).rejects.toMatchObject({ code: 'RUN_NOT_REPLAYABLE' });
  });

  it('replays a run without persisted outputs as a new analysis run pointing back at it', async () => {
    let calls = 0;
    analyzeWorker({
      async run() {
        calls += 1;
        if (calls === 1) throw new StudyNotFoundError();
        return { end: { outcome: 'unchanged' } };
      },
    });
    const enqueueStudy = producer();
    const { jobId } = await enqueueStudy({ study: { studyInstanceUid: UID }, trigger: 'api' });
    expect((await ended(jobId)).state).toBe('failed');
    const control = createRunControl({
      runs, results: createResultsStore(redis, prefix, { ttlMs: 60_000, maxBytes: 1024 }), publishQueue,
      enqueuePublish: createEnqueuePublish(publishQueue, retention), enqueueStudy, logger,
    });
    const replay = await control.replay(jobId);
    expect(replay.stage).toBe('analyze');
    expect(replay.jobId).not.toBe(jobId);
    const second = await ended(replay.jobId);
    expect(second).toMatchObject({ state: 'completed', trigger: 'replay', replayOf: jobId });
    expect((await runs.get(jobId))?.events.at(-1)).toMatchObject({ type: 'replayed', runId: replay.jobId });
  });

  it('a second run of the same study waits for the lock without using an attempt; the lock times never overlap', async () => {
    const studyKey = hashStudyUid(UID);
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    analyzeWorker({
      async run(ctx) {
        await ctx.lockStudy(studyKey);
        order.push(ctx.runId);
        if (order.length === 1) await gate;
        return { end: { outcome: 'unchanged' } };
      },
    }, { concurrency: 2 });
    const enqueue = producer();
    // Different dedup ids (ImagingStudy id vs UID): BullMQ cannot fold them, the lock must serialize them.
    const a = await enqueue({ study: { imagingStudyId: 'is-1' }, trigger: 'fhir-notification' });
    await waitFor(async () => order.length, (n) => n === 1);
    const b = await enqueue({ study: { studyInstanceUid: UID }, trigger: 'api' });
    expect(b.jobId).not.toBe(a.jobId);
    const waiting = await waitFor(() => runs.get(b.jobId), (r) => r?.events.some((e) => e.type === 'lock-wait') === true);
    expect(waiting!.attempts.filter((x) => x.outcome !== 'running')).toEqual([]);
    release();
    const [first, second] = [await ended(a.jobId), await ended(b.jobId)];
    expect(order).toEqual([a.jobId, b.jobId]);
    expect(first.attempts).toHaveLength(1);
    expect(second.attempts).toHaveLength(1);
    expect(second.attempts[0]!.attempt).toBe(1);
    const [l1, l2] = [first.attempts[0]!.lock!, second.attempts[0]!.lock!];
    expect(l1.toUs).not.toBeNull();
    expect(l2.fromUs).toBeGreaterThanOrEqual(l1.toUs!);
  });

  it('refuses outputs above the bound, keeping nothing', async () => {
    const outputs = createResultsStore(redis, prefix, { ttlMs: 60_000, maxBytes: 1024 * 1024 });
    await expect(outputs.put('run-x', { manifest: {}, blobs: [new Uint8Array(1024 * 1024 + 1)] })).rejects.toBeInstanceOf(ResultsTooLargeError);
    expect(await outputs.has('run-x')).toBe(false);
  });

  it('a run whose worker stops renewing its lock is taken up by another and recorded as stalled; one stalled too often fails RUN_STALLED', async () => {
    const abandoned: string[] = [];
    let started = 0;
    // Each worker takes the run and hangs; stopping it without a hand-back is what a dead process leaves behind.
    const hang: StageProcessor<StudyJobData> = {
      run: () => {
        started += 1;
        return new Promise<never>(() => undefined);
      },
      abandoned: async (runId, code) => void abandoned.push(`${runId}:${code}`),
    };
    const { jobId } = await producer()({ study: { studyInstanceUid: UID }, trigger: 'api' });
    for (let stall = 0; stall <= MAX_STALLS_PER_RUN; stall += 1) {
      const w = analyzeWorker(hang, { lockMs: 2000, stalledCheckMs: 300 });
      if (stall === MAX_STALLS_PER_RUN) break;
      await waitFor(async () => started, (n) => n === stall + 1);
      await w.worker.close(true);
      workers.splice(workers.indexOf(w), 1);
    }
    const run = await waitFor(() => runs.get(jobId), (r) => r?.state === 'failed');
    expect(run).toMatchObject({ errorCode: 'RUN_STALLED', retryable: false });
    expect(run!.attempts.map((a) => a.outcome)).toEqual(['stalled', 'stalled', 'stalled']);
    expect(run!.events.filter((e) => e.type === 'stalled' && e.stage === 'analyze')).toHaveLength(MAX_STALLS_PER_RUN);
    expect(await runs.stalledTotal()).toBe(MAX_STALLS_PER_RUN);
    expect(abandoned).toEqual([`${jobId}:RUN_STALLED`]);
    expect(started).toBe(MAX_STALLS_PER_RUN);
  });

  it('lets the active run finish on close', async () => {
    let finished = false;
    const w = analyzeWorker({
      async run() {
        await new Promise((r) => setTimeout(r, 300));
        finished = true;
        return { end: { outcome: 'unchanged' } };
      },
    });
    const { jobId } = await producer()({ study: { imagingStudyId: 'graceful' }, trigger: 'api' });
    await waitFor(() => runs.get(jobId), (r) => r?.state === 'running');
    await w.close(5000);
    workers.splice(workers.indexOf(w), 1);
    expect(finished).toBe(true);
    expect((await runs.get(jobId))?.state).toBe('completed');
  });

  it('hands a run stopped by shutdown back to the queue instead of failing it', async () => {
    let aborted = false;
    const w = analyzeWorker({
      async run({ signal }) {
        await new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new DOMException('This operation was aborted', 'AbortError'));
          }, { once: true });
        });
        return { end: { outcome: 'unchanged' } };
      },
    });
    const { jobId } = await producer()({ study: { imagingStudyId: 'shutdown' }, trigger: 'api' });
    await waitFor(() => runs.get(jobId), (r) => r?.state === 'running');
    await w.close(50);
    workers.splice(workers.indexOf(w), 1);
    expect(aborted).toBe(true);
    expect(['delayed', 'waiting']).toContain(await queue.getJobState(jobId));
    const run = await runs.get(jobId);
    expect(run).toMatchObject({ state: 'queued', errorCode: null });
    expect(run!.attempts).toEqual([]);
    expect(run!.events.map((e) => e.type)).toEqual(['handed-back']);
  });
});
