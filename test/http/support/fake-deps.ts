import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { configSchema, type Config } from '../../../src/config/schema.ts';
import type { AppDeps, ReadinessCheck } from '../../../src/http/app-deps.ts';
import type { RunFilter } from '../../../src/queue/run-record.ts';
import type { ReplayResult, RunControl, RunReader, RunView } from '../../../src/queue/run-view.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { JobNotFoundError, RunNotCancellableError, RunNotReplayableError } from '../../../src/shared/errors.ts';
import type { NotificationLog } from '../../../src/triggers/notification-log.ts';
import type { EnqueueResult, StudyRequest } from '../../../src/queue/study-request.ts';

/** Runs held in memory, newest first as listed. */
export class MemoryRuns implements RunReader, RunControl {
  readonly runs: RunView[] = [];
  readonly replays: string[] = [];
  countsError: Error | undefined;
  stalled = 0;
  async getRun(id: string): Promise<RunView | undefined> {
    return this.runs.find((r) => r.id === id);
  }
  async listRuns(filter: RunFilter): Promise<RunView[]> {
    return this.runs
      .filter((r) => (!filter.state || r.state === filter.state) && (!filter.errorCode || r.errorCode === filter.errorCode)
        && (!filter.studyKey || r.studyKey === filter.studyKey) && (!filter.modality || r.modalities.includes(filter.modality))
        && (filter.from === undefined || Date.parse(r.createdAt) >= filter.from) && (filter.to === undefined || Date.parse(r.createdAt) <= filter.to))
      .slice(filter.offset, filter.offset + filter.limit);
  }
  /** BullMQ job counts by queue and state, as the metrics read them. */
  queues: Record<string, Record<string, number>> = {};
  async queueCounts(): Promise<Record<string, Record<string, number>>> {
    if (this.countsError) throw this.countsError;
    return this.queues;
  }
  async stalledTotal(): Promise<number> {
    if (this.countsError) throw this.countsError;
    return this.stalled;
  }
  async deadLetterCount(): Promise<number> {
    if (this.countsError) throw this.countsError;
    return this.runs.filter((r) => r.state === 'dead-letter').length;
  }
  async replay(id: string): Promise<ReplayResult> {
    const run = this.runs.find((r) => r.id === id);
    if (!run) throw new JobNotFoundError();
    if (run.state !== 'failed' && run.state !== 'dead-letter') throw new RunNotReplayableError();
    this.replays.push(id);
    return { jobId: id, replayed: id, stage: run.stage };
  }
  async cancel(id: string): Promise<void> {
    const run = this.runs.find((r) => r.id === id);
    if (!run) throw new JobNotFoundError();
    if (run.state !== 'queued' || run.stage !== 'analyze') throw new RunNotCancellableError();
    Object.assign(run, { state: 'failed', errorCode: 'RUN_CANCELLED', retryable: false, endedAt: new Date().toISOString() });
  }
  async replayDeadLetters(filter: { errorCode?: string; limit: number }): Promise<ReplayResult[]> {
    const chosen = this.runs.filter((r) => r.state === 'dead-letter' && (!filter.errorCode || r.errorCode === filter.errorCode)).slice(0, filter.limit);
    return Promise.all(chosen.map((r) => this.replay(r.id)));
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

/**
 * enqueueStudy that records each request and folds repeats of the same study into one job id. A study
 * key in `running` stands for a study whose run is active: a repeat schedules one rerun, as BullMQ folding does.
 */
export class RecordingEnqueue {
  readonly calls: StudyRequest[] = [];
  readonly running = new Set<string>();
  failWith: Error | undefined;
  readonly enqueueStudy = async (request: StudyRequest): Promise<EnqueueResult> => {
    if (this.failWith) throw this.failWith;
    this.calls.push(request);
    const key = request.study.imagingStudyId ?? request.study.studyInstanceUid ?? 'none';
    const first = this.calls.findIndex((c) => (c.study.imagingStudyId ?? c.study.studyInstanceUid ?? 'none') === key);
    const created = first === this.calls.length - 1;
    return { jobId: `job-${first + 1}`, created, rerunScheduled: !created && this.running.has(key) };
  };
}

export interface TestDeps extends AppDeps {
  enqueue: RecordingEnqueue;
  runStore: MemoryRuns;
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
  const runStore = new MemoryRuns();
  const log = new MemoryNotificationLog();
  const reconciliations: string[] = [];
  return {
    config: testConfig(options.env),
    logger: createLogger({ level: 'debug', destination }),
    enqueueStudy: enqueue.enqueueStudy,
    runs: runStore,
    runControl: runStore,
    readiness: options.readiness ?? [],
    metrics: new Registry(),
    notifications: log,
    requestReconciliation: (reason) => reconciliations.push(reason),
    enqueue,
    runStore,
    log,
    reconciliations,
    logLines,
  };
}

export function sampleRun(overrides: Partial<RunView> = {}): RunView {
  return {
    id: 'run-1764000000000-0000abcd',
    kind: 'analysis',
    trigger: 'api',
    state: 'completed',
    stage: 'publish',
    outcome: 'published',
    errorCode: null,
    retryable: null,
    studyKey: 'a1b2c3d4e5f6a1b2c3d4e5f6',
    modalities: ['CT'],
    unmatchedModalities: [],
    inputIdentity: '0123456789abcdef0123456789abcdef',
    jobKey: '7d3c9a56-0a7e-5d7e-9f7e-0b6a1c2d3e4f',
    resultsOf: null,
    replayOf: null,
    createdAt: '2026-01-01T09:59:00.000Z',
    startedAt: '2026-01-01T10:00:00.000Z',
    endedAt: '2026-01-01T10:01:00.000Z',
    progress: null,
    series: [],
    results: { tasks: 1, dicomObjects: [{ role: 'x:sr', outcome: 'stored' }], diagnosticReport: 'DiagnosticReport/1', task: 'Task/2' },
    attempts: [
      { stage: 'analyze', attempt: 1, startedAt: '2026-01-01T10:00:00.000Z', endedAt: '2026-01-01T10:00:50.000Z', durationMs: 50_000, outcome: 'completed', worker: 'host:1', timingsMs: { model: 49_000 }, engineCalls: 3 },
      { stage: 'publish', attempt: 1, startedAt: '2026-01-01T10:00:55.000Z', endedAt: '2026-01-01T10:01:00.000Z', durationMs: 5_000, outcome: 'completed', worker: 'host:1', timingsMs: { 'fhir-write': 100 } },
    ],
    events: [],
    stages: [
      { stage: 'analyze', attempts: 1, startedAt: '2026-01-01T10:00:00.000Z', endedAt: '2026-01-01T10:00:50.000Z', durationMs: 50_000, lastErrorCode: null },
      { stage: 'publish', attempts: 1, startedAt: '2026-01-01T10:00:55.000Z', endedAt: '2026-01-01T10:01:00.000Z', durationMs: 5_000, lastErrorCode: null },
    ],
    ...overrides,
  };
}
