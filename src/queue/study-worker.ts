import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { toAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { STUDY_QUEUE, type AttemptRecord, type StudyJobData, type StudyJobProgress, type StudyJobResult } from './job-types.ts';
import { rerunFlagKey } from './study-queue.ts';

/** What the pipeline sees of a job: ids, attempt number and a progress reporter. */
export interface StudyJobContext {
  jobId: string;
  data: StudyJobData;
  attempt: number;
  /** No retry follows this attempt, whatever the error. */
  isFinalAttempt: boolean;
  reportProgress(progress: StudyJobProgress): Promise<void>;
  signal: AbortSignal;
}

export type StudyProcessor = (job: StudyJobContext) => Promise<StudyJobResult>;

export interface StudyWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  processor: StudyProcessor;
  logger: Logger;
  /** Called when a study's run ended and a trigger asked for one more run meanwhile. */
  onRerunRequested: (data: StudyJobData) => Promise<void>;
}

export interface StudyWorker {
  /** Stops taking jobs; waits up to graceMs for the active ones, then hands them back to the queue. */
  close(graceMs: number): Promise<void>;
  readonly worker: Worker<StudyJobData, StudyJobResult>;
}

type AttemptData = StudyJobData & { attempts?: AttemptRecord[] };

export function startStudyWorker(options: StudyWorkerOptions): StudyWorker {
  const { logger } = options;
  const shutdown = new AbortController();

  const worker = new Worker<StudyJobData, StudyJobResult>(
    STUDY_QUEUE,
    async (job: Job<StudyJobData, StudyJobResult>, token?: string) => {
      const attempt = job.attemptsMade + 1;
      const startedAt = new Date().toISOString();
      const log = logger.child({ jobId: job.id, attempt });
      log.info({ trigger: job.data.trigger }, 'job started');
      try {
        const result = await options.processor({
          jobId: job.id ?? '',
          data: job.data,
          attempt,
          isFinalAttempt: attempt >= (job.opts.attempts ?? 1),
          reportProgress: (progress) => job.updateProgress(progress as unknown as object),
          signal: shutdown.signal,
        });
        await recordAttempt(job, { attempt, startedAt, endedAt: new Date().toISOString(), outcome: 'completed' });
        log.info({ timingsMs: result.timingsMs, series: result.series.length }, 'job completed');
        return result;
      } catch (thrown) {
        if (shutdown.signal.aborted) {
          // Stopped by our shutdown, not by the study: hand the job back untouched (no attempt used,
          // no failure recorded) so the next worker runs it again.
          log.info('job handed back at shutdown');
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        const error = toAppError(thrown);
        await recordAttempt(job, {
          attempt, startedAt, endedAt: new Date().toISOString(), outcome: 'failed', errorCode: error.code, retryable: error.retryable,
        });
        log.warn({ errorCode: error.code, retryable: error.retryable, err: error }, 'job attempt failed');
        // The failure reason BullMQ stores is the code alone: messages of foreign errors may carry data.
        if (error.retryable) throw new Error(error.code, { cause: thrown });
        throw new UnrecoverableError(error.code);
      }
    },
    { connection: options.connection, prefix: options.prefix, concurrency: options.concurrency, autorun: true },
  );

  const takeRerunFlag = async (job: Job<StudyJobData> | undefined) => {
    if (!job?.id) return;
    const flag = await options.connection.getdel(rerunFlagKey(options.prefix, job.id));
    if (flag) await options.onRerunRequested(job.data);
  };
  worker.on('completed', (job) => {
    takeRerunFlag(job).catch((err: unknown) => logger.error({ err }, 'rerun scheduling failed'));
  });
  worker.on('failed', (job) => {
    const final = job !== undefined && (job.attemptsMade >= (job.opts.attempts ?? 1) || job.finishedOn !== undefined);
    if (final) takeRerunFlag(job).catch((err: unknown) => logger.error({ err }, 'rerun scheduling failed'));
  });
  worker.on('error', (err) => logger.error({ err }, 'queue worker error'));

  return {
    worker,
    async close(graceMs: number) {
      const graceful = worker.close();
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref()),
      ]);
      if (timedOut) {
        // Tell the processor to stop between steps; the job goes back to the queue (see the processor).
        // worker.close(true) would only return the close already running, so wait for that one.
        shutdown.abort();
        await graceful;
      }
    },
  };
}

async function recordAttempt(job: Job<StudyJobData>, record: AttemptRecord): Promise<void> {
  const data = job.data as AttemptData;
  const attempts = [...(data.attempts ?? []), record];
  await job.updateData({ ...data, attempts } as StudyJobData);
}
