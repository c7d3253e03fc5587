import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { configSchema, type Config } from '../../../src/config/schema.ts';
import type { AppDeps, ReadinessCheck } from '../../../src/http/app-deps.ts';
import type { JobState, JobStore, JobView } from '../../../src/queue/job-view.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import type { NotificationLog } from '../../../src/triggers/notification-log.ts';
import type { EnqueueResult, StudyRequest } from '../../../src/queue/study-request.ts';

/** Jobs held in memory, newest last. */
export class MemoryJobStore implements JobStore {
  readonly jobs: JobView[] = [];
  countsError: Error | undefined;
  async getJob(id: string): Promise<JobView | undefined> {
    return this.jobs.find((j) => j.id === id);
  }
  async listJobs(filter: { state?: JobState; limit: number; offset: number }): Promise<JobView[]> {
    return this.jobs.filter((j) => !filter.state || j.state === filter.state).slice(filter.offset, filter.offset + filter.limit);
  }
  async countsByState(): Promise<Record<string, number>> {
    if (this.countsError) throw this.countsError;
    const counts: Record<string, number> = {};
    for (const job of this.jobs) counts[job.state] = (counts[job.state] ?? 0) + 1;
    return counts;
  }
}

/** The NotificationLog contract in memory (the Redis one belongs to the queue layer). */
export class MemoryNotificationLog implements NotificationLog {
  readonly seen = new Set<string>();
  readonly eventNumbers = new Map<string, number>();
  readonly statuses: Array<{ subscription: string; type: string }> = [];
  async markSeen(key: string): Promise<boolean> {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
  async forget(key: string): Promise<void> {
    this.seen.delete(key);
  }
  async recordEventNumber(subscription: string, eventNumber: number): Promise<number | undefined> {
    const previous = this.eventNumbers.get(subscription);
    this.eventNumbers.set(subscription, Math.max(previous ?? eventNumber, eventNumber));
    return previous;
  }
  async recordStatus(subscription: string, type: string): Promise<void> {
    this.statuses.push({ subscription, type });
  }
}

/** enqueueStudy that records each request and folds repeats of the same study into one job id. */
export class RecordingEnqueue {
  readonly calls: StudyRequest[] = [];
  failWith: Error | undefined;
  readonly enqueueStudy = async (request: StudyRequest): Promise<EnqueueResult> => {
    if (this.failWith) throw this.failWith;
    this.calls.push(request);
    const key = request.study.imagingStudyId ?? request.study.studyInstanceUid ?? 'none';
    const first = this.calls.findIndex((c) => (c.study.imagingStudyId ?? c.study.studyInstanceUid ?? 'none') === key);
    return { jobId: `job-${first + 1}`, created: first === this.calls.length - 1, rerunScheduled: false };
  };
}

export interface TestDeps extends AppDeps {
  enqueue: RecordingEnqueue;
  jobStore: MemoryJobStore;
  log: MemoryNotificationLog;
  reconciliations: string[];
  logLines: string[];
}

export function testConfig(env: Record<string, string> = {}): Config {
  return Object.freeze(configSchema.parse(env));
}

export function createTestDeps(options: { env?: Record<string, string>; readiness?: ReadinessCheck[] } = {}): TestDeps {
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logLines.push(String(chunk));
      callback();
    },
  });
  const enqueue = new RecordingEnqueue();
  const jobStore = new MemoryJobStore();
  const log = new MemoryNotificationLog();
  const reconciliations: string[] = [];
  return {
    config: testConfig(options.env),
    logger: createLogger({ level: 'debug', destination }),
    enqueueStudy: enqueue.enqueueStudy,
    jobs: jobStore,
    readiness: options.readiness ?? [],
    metrics: new Registry(),
    notifications: log,
    requestReconciliation: (reason) => reconciliations.push(reason),
    enqueue,
    jobStore,
    log,
    reconciliations,
    logLines,
  };
}

export function sampleJob(overrides: Partial<JobView> = {}): JobView {
  return {
    id: 'job-1',
    state: 'completed',
    trigger: 'api',
    progress: { stage: 'done', percent: 100 },
    attemptsMade: 1,
    failureCode: null,
    attempts: [{ attempt: 1, startedAt: '2026-01-01T10:00:00.000Z', endedAt: '2026-01-01T10:01:00.000Z', outcome: 'completed' }],
    createdAt: '2026-01-01T09:59:00.000Z',
    processedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: '2026-01-01T10:01:00.000Z',
    result: { series: [] },
    ...overrides,
  };
}
