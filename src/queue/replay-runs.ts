// Replays of failed and dead-lettered runs, from the stage that failed: a run whose outputs are still
// persisted publishes again (same run, a fresh retry window, no model); any other run is analyzed
// again as a new run (the study may have changed since), pointing back at the one it replays.
import type { Queue } from 'bullmq';
import { JobNotFoundError, RUN_CANCELLED, RunNotCancellableError, RunNotReplayableError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { RunRecord } from './run-record.ts';
import { publishJobId } from './run-id.ts';
import type { RunStore } from './run-store.ts';
import type { ResultsStore } from './results-store.ts';
import type { EnqueueStudy } from './study-request.ts';
import { stageJobOptions, type PublishQueue } from './study-queue.ts';
import type { ReplayResult, RunControl } from './run-view.ts';

/** Hands a run to the publish stage (one publish job per run; adding it again is a no-op). */
export function createEnqueuePublish(queue: PublishQueue, retention: { retentionMs: number; retentionCount: number }) {
  return async (runId: string): Promise<void> => {
    await queue.add('publish-run', { runId }, { ...stageJobOptions(retention), jobId: publishJobId(runId) });
  };
}

export interface RunControlDeps {
  runs: RunStore;
  results: Pick<ResultsStore, 'has'>;
  publishQueue: PublishQueue;
  enqueuePublish: (runId: string) => Promise<void>;
  enqueueStudy: EnqueueStudy;
  logger: Logger;
  /** The analysis queue, to cancel a run still waiting there; absent: no cancel. */
  studyQueue?: Pick<Queue, 'getJob'>;
}

/** Scanned at most per bulk replay (the dead-letter set is ordered oldest first). */
const BULK_SCAN = 5_000;

export function createRunControl(deps: RunControlDeps): RunControl {
  const { runs } = deps;

  async function replayPublish(run: RunRecord): Promise<ReplayResult> {
    const job = await deps.publishQueue.getJob(publishJobId(run.id));
    const state = job ? await job.getState() : undefined;
    if (job && state !== 'failed') throw new RunNotReplayableError();
    // The record first: once the job is back in the queue, a worker may start it at once.
    await runs.addEvent(run.id, { at: new Date().toISOString(), type: 'replayed', stage: 'publish' });
    await runs.clearDeadLetter(run.id);
    await runs.update(run.id, { state: 'queued', stage: 'publish', errorCode: null, retryable: null, endedAt: null, outcome: null });
    try {
      if (job) {
        await job.updateData({ ...job.data, windowStartedAt: Date.now() });
        await job.retry('failed', { resetAttemptsMade: true });
      } else {
        await deps.enqueuePublish(run.id);
      }
    } catch (cause) {
      // Someone else moved the job first (a concurrent replay): put the record back as it was.
      if (run.state === 'dead-letter') await runs.markDeadLetter(run.id, Date.now());
      await runs.update(run.id, { state: run.state, errorCode: run.errorCode, retryable: run.retryable, endedAt: run.endedAt });
      throw new RunNotReplayableError({ cause });
    }
    deps.logger.info({ runId: run.id, stage: 'publish' }, 'run replayed');
    return { jobId: run.id, replayed: run.id, stage: 'publish' };
  }

  async function replay(id: string): Promise<ReplayResult> {
    const run = await runs.get(id);
    if (!run) throw new JobNotFoundError();
    if (run.state !== 'failed' && run.state !== 'dead-letter') throw new RunNotReplayableError();
    if (run.stage === 'publish' && (await deps.results.has(id))) return replayPublish(run);
    const next = await deps.enqueueStudy({ study: run.study, trigger: 'replay', replayOf: id });
    await runs.clearDeadLetter(id);
    await runs.addEvent(id, { at: new Date().toISOString(), type: 'replayed', stage: 'analyze', runId: next.jobId });
    deps.logger.info({ runId: id, replayRunId: next.jobId, stage: 'analyze' }, 'run replayed');
    return { jobId: next.jobId, replayed: id, stage: 'analyze' };
  }

  /** Only a run still waiting in the analysis queue: nothing was read, written or told to FHIR yet. */
  async function cancel(queue: Pick<Queue, 'getJob'>, id: string): Promise<void> {
    const run = await runs.get(id);
    if (!run) throw new JobNotFoundError();
    if (run.state !== 'queued' || run.stage !== 'analyze') throw new RunNotCancellableError();
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : undefined;
    if (!job || !['waiting', 'delayed', 'prioritized'].includes(String(state))) throw new RunNotCancellableError();
    try {
      // Refused by BullMQ when a worker has taken the job meanwhile (it is locked).
      await job.remove();
    } catch (cause) {
      throw new RunNotCancellableError({ cause });
    }
    const at = new Date().toISOString();
    await runs.update(id, { state: 'failed', errorCode: RUN_CANCELLED, retryable: false, endedAt: at, progress: null });
    await runs.addEvent(id, { at, type: 'cancelled' });
    deps.logger.info({ runId: id }, 'run cancelled');
  }

  const studyQueue = deps.studyQueue;
  return {
    replay,
    ...(studyQueue ? { cancel: (id: string) => cancel(studyQueue, id) } : {}),
    async replayDeadLetters({ errorCode, limit }) {
      const replayed: ReplayResult[] = [];
      for (const id of await runs.deadLetters(BULK_SCAN)) {
        if (replayed.length >= limit) break;
        const run = await runs.get(id);
        if (!run || run.state !== 'dead-letter') {
          await runs.clearDeadLetter(id);
          continue;
        }
        if (errorCode !== undefined && run.errorCode !== errorCode) continue;
        try {
          replayed.push(await replay(id));
        } catch (err) {
          deps.logger.warn({ err, runId: id }, 'dead-lettered run not replayed');
        }
      }
      return replayed;
    },
  };
}
