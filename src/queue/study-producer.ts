import type { Redis } from 'ioredis';
import { hashStudyUid } from '../shared/uids.ts';
import type { StudyJobData } from './job-types.ts';
import { dedupIdFor, newRunId } from './run-id.ts';
import type { RunStore } from './run-store.ts';
import type { StudyMemory } from './study-memory.ts';
import type { EnqueueResult, StudyRequest } from './study-request.ts';
import { stageJobOptions, type StudyQueue } from './study-queue.ts';

export interface StudyProducerOptions {
  queue: StudyQueue;
  /** The queue's Redis (to see whether BullMQ kept a request as the next run). */
  redis: Redis;
  runs: RunStore;
  memory: StudyMemory;
  /** Delay before a new run may start, so a burst of notifications about one study becomes one run. */
  debounceMs: number;
  retention: { retentionMs: number; retentionCount: number };
  now?: () => number;
}

/**
 * The single entry for every trigger: a new run, folded by BullMQ's deduplication into the study's
 * waiting run if there is one; while the study's run is active, BullMQ keeps this request and starts
 * it as the next run when the active one ends (`keepLastIfActive`: at most one waiting per study).
 */
export function createEnqueueStudy(options: StudyProducerOptions) {
  const now = options.now ?? Date.now;
  return async function enqueueStudy(request: StudyRequest): Promise<EnqueueResult> {
    const { study } = request;
    // A notification's own Study Instance UID is not trusted: with an ImagingStudy id, only the alias
    // learned from FHIR_URL names the study. API and poller UIDs come from trusted callers.
    const studyKey = study.imagingStudyId !== undefined
      ? await options.memory.studyKeyOf(study.imagingStudyId)
      : study.studyInstanceUid !== undefined ? hashStudyUid(study.studyInstanceUid) : undefined;
    const runId = newRunId(now());
    const requestedAt = new Date(now()).toISOString();
    const data: StudyJobData = {
      study, trigger: request.trigger, requestedAt,
      ...(request.replayOf ? { replayOf: request.replayOf } : {}),
      ...(request.question ? { question: request.question } : {}),
    };
    if (request.question) {
      // Every question is answered: no folding, no debounce.
      await options.queue.add('ask-question', data, { ...stageJobOptions(options.retention), jobId: runId });
      await options.runs.create({ id: runId, kind: 'question', trigger: request.trigger, study, createdAt: requestedAt, ...(studyKey ? { studyKey } : {}) });
      return { jobId: runId, created: true, rerunScheduled: false };
    }
    const dedupId = dedupIdFor(studyKey, study.imagingStudyId);
    const job = await options.queue.add('analyze-study', data, {
      ...stageJobOptions(options.retention),
      jobId: runId,
      delay: options.debounceMs,
      deduplication: { id: dedupId, keepLastIfActive: true },
    });
    if (job.id === runId) {
      await options.runs.create({
        id: runId, kind: 'analysis', trigger: request.trigger, study, createdAt: requestedAt,
        ...(studyKey ? { studyKey } : {}), ...(request.replayOf ? { replayOf: request.replayOf } : {}),
      });
      return { jobId: runId, created: true, rerunScheduled: false };
    }
    // Folded: into a waiting run, or kept by BullMQ as the next run of an active one (its "dedup next"
    // record, `dn:<id>`; no public getter exists). When that record is gone, the active run ended and
    // BullMQ made the next run from it in the same step, under our id if we were the last to ask.
    const existing = job.id ?? runId;
    const nextPending = async () =>
      (await options.redis.exists(options.queue.toKey(`dn:${dedupId}`))) === 1
        || (await options.queue.getJob(runId)) !== undefined;
    return { jobId: existing, created: false, rerunScheduled: await nextPending() };
  };
}
