// Runs one stage of runs (analyze or publish) from its BullMQ queue, with the run policies in one place:
// attempts recorded in the run's history; the study lock (a run that finds it taken waits in the delayed
// set, which is not an attempt); retries of transient faults within the stage's window, then
// dead-letter; permanent faults fail at once; stalled runs (a dead worker) logged, recorded, counted;
// SIGTERM hands the active run back. The processor (the pipeline's) is injected by main.ts.
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { StudyLockLostError, toAppError, type AppError } from '../shared/errors.ts';
import { withAuditRun } from '../shared/audit-run-context.ts';
import type { Logger } from '../shared/logger.ts';
import type { StageJobData } from './job-types.ts';
import type { RunNote, RunOutcome, RunResults, RunStage } from './run-record.ts';
import { decideRetry, type RetryWindow } from './retry-policy.ts';
import type { RunInit, RunStore } from './run-store.ts';
import type { StudyLock } from './study-lock.ts';
import { runIdOfJob } from './run-id.ts';
import { RUN_BACKOFF } from './study-queue.ts';

/** What a stage's processor sees of its run. */
export interface StageContext<D> {
  runId: string;
  data: D;
  attempt: number;
  /** Aborted at shutdown (the run is handed back) or when the study lock was lost. */
  signal: AbortSignal;
  progress(stage: string, percent: number): Promise<void>;
  /** Takes the study's lock for this run until the attempt ends; if another run holds it, this run waits. */
  lockStudy(studyKey: string): Promise<void>;
  /** What a failure now leads to (the same answer the worker then acts on), so the Task can say so. */
  decide(error: AppError): StageDecision;
  /** Records facts the stage learned (study key, modalities, input identity, ...). */
  note(note: RunNote): Promise<void>;
}

export type StageDecision = 'retry' | 'dead-letter' | 'fail';

/** Where the run goes after a successful attempt: on to publishing, or done with an outcome. */
export type StageEnd =
  | { next: 'publish' }
  | { outcome: RunOutcome; results?: RunResults; resultsOf?: string };

export interface StageResult {
  end: StageEnd;
  timingsMs?: Record<string, number>;
  engineCalls?: number;
}

export interface StageProcessor<D> {
  run(ctx: StageContext<D>): Promise<StageResult>;
  /** The run was given up without the processor (its worker died too often): bring the Task in line. */
  abandoned?(runId: string, errorCode: string): Promise<void>;
}

export interface StageWorkerOptions<D extends StageJobData> {
  stage: RunStage;
  queueName: string;
  connection: Redis;
  prefix: string;
  concurrency: number;
  processor: StageProcessor<D>;
  runs: RunStore;
  lock: StudyLock;
  retry: RetryWindow;
  /** BullMQ job lock: a dead worker's run is taken up again within lockMs + stalledCheckMs. */
  lockMs: number;
  stalledCheckMs: number;
  /** How often a run waiting for the study lock looks again. */
  lockRetryMs: number;
  /** The run record to create if the job has none yet (a run BullMQ started from a folded request). */
  initRun?: (runId: string, data: D) => RunInit;
  /** Analyze only: hands a run on to the publish stage. */
  continueTo?: (runId: string) => Promise<void>;
  logger: Logger;
  random?: () => number;
}

export interface StageWorker {
  /** Stops taking runs; waits up to graceMs for the active ones, then hands them back to the queue. */
  close(graceMs: number): Promise<void>;
  readonly worker: Worker;
}

/** A worker that dies this often during one run fails it (RUN_STALLED): the study may be what kills it. */
export const MAX_STALLS_PER_RUN = 3;
/** BullMQ's failure reason for a job past maxStalledCount. */
const STALLED_TOO_OFTEN = 'job stalled more than allowable limit';

class StudyBusy extends Error {}

/** A transient failure; BullMQ schedules the next attempt after `delayMs` (the backoff strategy reads it). */
class RetryLater extends Error {
  constructor(code: string, readonly delayMs: number) {
    super(code);
  }
}

/** The longest a stage waits for the stalled check: the bound within which a dead worker's run resumes. */
export function stalledRecoveryBoundMs(lockMs: number, stalledCheckMs: number): number {
  return lockMs + stalledCheckMs;
}

export function startStageWorker<D extends StageJobData>(options: StageWorkerOptions<D>): StageWorker {
  const { runs, lock, stage, logger } = options;
  const shutdown = new AbortController();
  const random = options.random ?? Math.random;

  const runAttempt = async (job: Job<D>, token?: string): Promise<void> => {
    const runId = runIdOfJob(job.id ?? '');
    if (options.initRun) await runs.create(options.initRun(runId, job.data));
    const windowStartedAt = job.data.windowStartedAt ?? Date.now();
    if (job.data.windowStartedAt === undefined) await job.updateData({ ...job.data, windowStartedAt });
    const attempt = await runs.startAttempt(runId, stage, new Date().toISOString());
    await runs.update(runId, { state: 'running', stage });
    const log = logger.child({ runId, stage, attempt });
    log.info('run attempt started');

    const lockLost = new AbortController();
    const signal = AbortSignal.any([shutdown.signal, lockLost.signal]);
    let held: { studyKey: string; timer: NodeJS.Timeout } | undefined;
    let decided: { kind: 'retry'; delayMs: number } | { kind: 'dead-letter' | 'fail' } | undefined;
    const release = async (): Promise<number | null> => {
      if (!held) return null;
      const { studyKey, timer } = held;
      held = undefined;
      clearInterval(timer);
      return (await lock.release(studyKey, runId).catch(() => undefined)) ?? null;
    };
    const decide = (error: AppError) => {
      if (!error.retryable) return { kind: 'fail' as const };
      const decision = decideRetry(options.retry, { failures: job.attemptsMade + 1, windowStartedAt, now: Date.now() }, random);
      return decision.kind === 'retry' ? decision : { kind: 'dead-letter' as const };
    };

    const ctx: StageContext<D> = {
      runId, data: job.data, attempt, signal,
      progress: (name, percent) => runs.update(runId, { progress: { stage: name, percent } }).catch((err: unknown) => log.warn({ err }, 'progress not recorded')),
      async lockStudy(studyKey) {
        if (held) return;
        const fromUs = await lock.acquire(studyKey, runId);
        if (fromUs === undefined) throw new StudyBusy();
        const timer = setInterval(() => {
          lock.renew(studyKey, runId).then((ok) => {
            if (!ok && !lockLost.signal.aborted) lockLost.abort(new StudyLockLostError());
          }, (err: unknown) => log.warn({ err }, 'study lock renewal failed'));
        }, Math.max(100, Math.floor(lock.ttlMs / 3)));
        timer.unref();
        held = { studyKey, timer };
        await runs.noteLock(runId, fromUs);
      },
      decide(error) {
        decided = decide(error);
        return decided.kind;
      },
      note: (note) => runs.update(runId, note),
    };

    try {
      // Every access to patient data the run makes is audited under its run id (README "Audit").
      const result = await withAuditRun(runId, () => options.processor.run(ctx));
      const lockToUs = await release();
      await runs.endAttempt(runId, {
        outcome: 'completed', lockToUs,
        ...(result.timingsMs ? { timingsMs: result.timingsMs } : {}),
        ...(result.engineCalls !== undefined ? { engineCalls: result.engineCalls } : {}),
      });
      const { end } = result;
      if ('next' in end) {
        await options.continueTo?.(runId);
        await runs.update(runId, { state: 'queued', stage: 'publish', progress: null, errorCode: null, retryable: null });
        log.info({ timingsMs: result.timingsMs }, 'run analyzed, publishing next');
      } else {
        await runs.update(runId, {
          state: 'completed', outcome: end.outcome, endedAt: new Date().toISOString(), progress: null, errorCode: null, retryable: null,
          ...(end.results ? { results: end.results } : {}), ...(end.resultsOf ? { resultsOf: end.resultsOf } : {}),
        });
        log.info({ outcome: end.outcome, timingsMs: result.timingsMs }, 'run completed');
      }
    } catch (thrown) {
      const lockToUs = await release();
      if (thrown instanceof StudyBusy) {
        // Another run of this study is going on: wait without using an attempt.
        await runs.dropAttempt(runId, stage);
        const run = await runs.get(runId);
        if (run?.events.at(-1)?.type !== 'lock-wait') await runs.addEvent(runId, { at: new Date().toISOString(), type: 'lock-wait', stage });
        await runs.update(runId, { state: 'queued' });
        log.info('study busy with another run: waiting');
        await job.moveToDelayed(Date.now() + options.lockRetryMs, token);
        throw new DelayedError();
      }
      if (shutdown.signal.aborted && !lockLost.signal.aborted) {
        // Stopped by our shutdown, not by the study: hand the run back untouched (no attempt used).
        await runs.dropAttempt(runId, stage);
        await runs.addEvent(runId, { at: new Date().toISOString(), type: 'handed-back', stage });
        await runs.update(runId, { state: 'queued' });
        log.info('run handed back at shutdown');
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      const error = lockLost.signal.aborted ? new StudyLockLostError() : toAppError(thrown);
      if (lockLost.signal.aborted) await runs.addEvent(runId, { at: new Date().toISOString(), type: 'lock-lost', stage });
      const decision = decided ?? decide(error);
      const failed = { outcome: 'failed' as const, errorCode: error.code, retryable: error.retryable, lockToUs };
      // The failure reason BullMQ stores is the code alone: messages of foreign errors may carry data.
      if (decision.kind === 'retry') {
        const nextAttemptAt = new Date(Date.now() + decision.delayMs).toISOString();
        await runs.endAttempt(runId, { ...failed, nextAttemptAt });
        await runs.update(runId, { state: 'retrying', errorCode: error.code, retryable: true });
        log.warn({ errorCode: error.code, delayMs: decision.delayMs, err: error }, 'run attempt failed, will retry');
        throw new RetryLater(error.code, decision.delayMs);
      }
      await runs.endAttempt(runId, failed);
      const endedAt = new Date();
      if (decision.kind === 'dead-letter') {
        // The state last: it is what observers wait for.
        await runs.markDeadLetter(runId, endedAt.getTime());
        await runs.addEvent(runId, { at: endedAt.toISOString(), type: 'dead-lettered', stage, errorCode: error.code });
        await runs.update(runId, { state: 'dead-letter', errorCode: error.code, retryable: true, endedAt: endedAt.toISOString(), progress: null });
        log.error({ errorCode: error.code }, 'run dead-lettered: its retry window ended');
      } else {
        await runs.update(runId, { state: 'failed', errorCode: error.code, retryable: false, endedAt: endedAt.toISOString(), progress: null });
        log.warn({ errorCode: error.code, err: error }, 'run failed');
      }
      throw new UnrecoverableError(error.code);
    }
  };

  const worker = new Worker<D>(options.queueName, runAttempt, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    autorun: true,
    lockDuration: options.lockMs,
    stalledInterval: options.stalledCheckMs,
    maxStalledCount: MAX_STALLS_PER_RUN - 1,
    settings: {
      backoffStrategy: (_attempts, type, err) => (type === RUN_BACKOFF && err instanceof RetryLater ? err.delayMs : options.retry.firstDelayMs),
    },
  });

  worker.on('stalled', (jobId) => {
    const runId = runIdOfJob(jobId);
    void (async () => {
      logger.warn({ runId, stage }, 'run stalled: its worker stopped; the run is back in the queue');
      await runs.addEvent(runId, { at: new Date().toISOString(), type: 'stalled', stage });
      await runs.countStalled();
    })().catch((err: unknown) => logger.error({ err, runId }, 'stalled run not recorded'));
  });
  worker.on('failed', (job, err) => {
    if (!job?.id || err?.message !== STALLED_TOO_OFTEN) return;
    const runId = runIdOfJob(job.id);
    void (async () => {
      await runs.endAttempt(runId, { outcome: 'stalled' });
      await runs.update(runId, { state: 'failed', errorCode: 'RUN_STALLED', retryable: false, endedAt: new Date().toISOString(), progress: null });
      logger.error({ runId, stage, errorCode: 'RUN_STALLED' }, 'run failed: its workers died too often');
      await withAuditRun(runId, async () => options.processor.abandoned?.(runId, 'RUN_STALLED'));
    })().catch((error: unknown) => logger.error({ err: error, runId }, 'stalled run failure not recorded'));
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
        // Tell the processor to stop between steps; the run goes back to the queue (see above).
        shutdown.abort();
        await graceful;
      }
    },
  };
}
